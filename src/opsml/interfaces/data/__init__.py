"""Built-in data interfaces, one module per library.

Each library's module holds its interface (how the data is saved and loaded) and its
``DataLibrary`` (how the data is split, profiled and described). The lines below register
the libraries, in the order they are asked whose an object is; adding a library is one
module and one line here (see docs/architecture.md).
"""

from opsml.interfaces._library import register_data_library
from opsml.interfaces.data._arrow import ArrowData, ArrowLibrary
from opsml.interfaces.data._numpy import NumpyData, NumpyLibrary
from opsml.interfaces.data._pandas import PandasData, PandasLibrary
from opsml.interfaces.data._polars import PolarsData, PolarsLibrary
from opsml.interfaces.data._sql import SqlData
from opsml.interfaces.data._torch import TorchData, TorchLibrary

__all__ = ["ArrowData", "NumpyData", "PandasData", "PolarsData", "SqlData", "TorchData"]

register_data_library(PandasLibrary())
register_data_library(NumpyLibrary())
register_data_library(PolarsLibrary())
register_data_library(ArrowLibrary())
register_data_library(TorchLibrary())
