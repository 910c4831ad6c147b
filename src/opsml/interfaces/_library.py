"""The data-library protocol: what opsml asks of pandas, polars, pyarrow, numpy and torch.

Splits, profiles, feature schemas and sample data mean the same whatever the library; only
the operations on the library's objects differ. The concept modules (``_splits``,
``_profile``, ``_schema``) hold the meaning and the result types and call a
:class:`DataLibrary` for the rest; each library implements it in its own module, next to its
interface (``interfaces/data/_pandas.py`` holds ``PandasData`` and ``PandasLibrary``), and
``interfaces/data/__init__.py`` registers it with one line.

A library is found by asking each registered one, in order, whether it ``accepts`` the
object. ``accepts`` must not import its library: an object can only be a pandas frame if
pandas is already imported (``sys.modules``), so nothing here imports a data library.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from opsml.errors import InvalidArgumentError

if TYPE_CHECKING:
    from opsml.interfaces._data_base import DataInterface
    from opsml.interfaces._profile import DataProfile
    from opsml.interfaces._schema import FeatureSchema
    from opsml.interfaces._splits import ColumnKind, ColumnSplit

__all__ = [
    "DataLibrary",
    "ProfileOptions",
    "data_libraries",
    "library_for",
    "register_data_library",
    "registered_data_library",
    "supported_kinds",
]


@dataclass(frozen=True)
class ProfileOptions:
    """What a profile computes (checked by ``create_data_profile``).

    Attributes:
        bin_size: Number of histogram bins of numeric columns (at least 1).
        correlations: Whether to compute Pearson correlations between numeric columns.
        top_k: How many most-frequent values to keep for non-numeric columns (at least 1).
    """

    bin_size: int = 20
    correlations: bool = False
    top_k: int = 10


class DataLibrary(ABC):
    """One data library's operations, as the split, profile, schema and sample-data code calls them.

    Rows are the first dimension; columns are named (frames, tables) or only numbered
    (arrays, tensors: :meth:`columns` returns ``None``, and column splits are refused before
    :meth:`column_kind` or :meth:`where` is called). Every method receives an object
    :meth:`accepts` said yes to, except :meth:`feature_schema`, which is asked about any
    object.
    """

    name: ClassVar[str]
    """The library's name in messages, e.g. ``"pandas"``."""

    kind: ClassVar[str]
    """The object it holds, in messages, with its article: ``"a pandas DataFrame"``."""

    interface: ClassVar[type[DataInterface]]
    """The data interface that saves and loads such objects (and holds them as sample data)."""

    @abstractmethod
    def accepts(self, data: Any) -> bool:
        """Whether ``data`` is this library's object; never imports the library."""

    @abstractmethod
    def feature_schema(self, data: Any) -> FeatureSchema | None:
        """The schema of ``data`` (dtypes and shapes only, no row values).

        Returns:
            ``None`` if this library does not describe ``data``; it may describe more than
            it accepts (pandas describes a ``Series``, numpy a dict of arrays).
        """

    @abstractmethod
    def profile(self, data: Any, options: ProfileOptions) -> DataProfile:
        """Profile every column of ``data`` with the library's own kernels."""

    def columns(self, data: Any) -> list[str] | None:
        """The column names, or ``None`` if the data has no named columns (the default)."""
        return None

    @abstractmethod
    def n_rows(self, data: Any) -> int:
        """The number of rows."""

    @abstractmethod
    def n_columns(self, data: Any) -> int | None:
        """The number of columns, or ``None`` if the data is not 2-D."""

    def column_kind(self, data: Any, name: str) -> ColumnKind:
        """What the existing column ``name`` holds, as a split compares it."""
        raise InvalidArgumentError(f"{self.name} data has no named columns")

    def where(self, data: Any, split: ColumnSplit) -> Any:
        """The rows where ``column <inequality> value`` holds (missing values never do)."""
        raise InvalidArgumentError(f"{self.name} data has no named columns")

    @abstractmethod
    def rows(self, data: Any, start: int, stop: int) -> Any:
        """Rows ``start`` to ``stop`` (excluded), both within the data."""

    @abstractmethod
    def take(self, data: Any, indices: list[int]) -> Any:
        """The rows at ``indices`` (all within the data), in that order."""

    @abstractmethod
    def split_columns(self, rows: Any, positions: list[int]) -> tuple[Any, Any]:
        """``rows`` without the columns at ``positions``, and those columns alone."""


_LIBRARIES: list[DataLibrary] = []


def register_data_library(library: DataLibrary) -> None:
    """Add ``library`` after the registered ones (replacing one of the same name in place).

    Args:
        library: The library.
    """
    for position, registered in enumerate(_LIBRARIES):
        if registered.name == library.name:
            _LIBRARIES[position] = library
            return
    _LIBRARIES.append(library)


@contextmanager
def registered_data_library(library: DataLibrary) -> Iterator[DataLibrary]:
    """Register ``library`` for the duration of a ``with`` block (e.g. in a test).

    Args:
        library: The library.

    Yields:
        The library; the registered libraries are as they were after the block.
    """
    before = list(_LIBRARIES)
    register_data_library(library)
    try:
        yield library
    finally:
        _LIBRARIES[:] = before


def data_libraries() -> tuple[DataLibrary, ...]:
    """The registered libraries, in the order they are asked."""
    return tuple(_LIBRARIES)


def library_for(data: Any) -> DataLibrary | None:
    """The registered library whose object ``data`` is, or ``None``."""
    for library in _LIBRARIES:
        if library.accepts(data):
            return library
    return None


def supported_kinds() -> str:
    """The registered libraries' objects, for messages: ``"a pandas DataFrame, ... or a
    torch tensor"``."""
    kinds = [library.kind for library in _LIBRARIES]
    return kinds[0] if len(kinds) == 1 else f"{', '.join(kinds[:-1])} or {kinds[-1]}"
