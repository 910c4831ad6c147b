"""Built-in data interfaces, one module per library."""

from opsml.interfaces.data._arrow import ArrowData
from opsml.interfaces.data._numpy import NumpyData
from opsml.interfaces.data._pandas import PandasData
from opsml.interfaces.data._polars import PolarsData
from opsml.interfaces.data._sql import SqlData
from opsml.interfaces.data._torch import TorchData

__all__ = ["ArrowData", "NumpyData", "PandasData", "PolarsData", "SqlData", "TorchData"]
