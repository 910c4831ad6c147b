"""Built-in data interfaces, one module per library."""

from opsml.interfaces.data._numpy import NumpyData
from opsml.interfaces.data._pandas import PandasData

__all__ = ["NumpyData", "PandasData"]
