"""PolarsData: a polars DataFrame saved as Parquet (``data.parquet``) with polars' own writer."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

from opsml._compat import require
from opsml.errors import UnsupportedTypeError
from opsml.interfaces._data_base import DataInterface, translate_errors, type_name
from opsml.interfaces._enums import DataType
from opsml.types import Suffix

__all__ = ["PolarsData"]

_EXTRA = "polars"


class PolarsData(DataInterface):
    """A polars ``DataFrame``, saved as ``data.parquet`` with ``DataFrame.write_parquet``.

    Polars records its schema in the file, so the round trip keeps every dtype (``Enum``,
    ``Categorical``, time-zone-aware ``Datetime``, ``Decimal``, nested ``List``/``Struct``).
    ``DataSaveKwargs(data=...)`` goes to ``DataFrame.write_parquet`` (e.g.
    ``{"compression": "snappy"}``; polars' default is zstd) and ``DataLoadKwargs(data=...)``
    to ``polars.read_parquet`` (e.g. ``{"columns": ["a"]}``).

    Args:
        data: A ``polars.DataFrame`` (collect a ``LazyFrame`` first).
        data_splits: How to split the data.
        dependent_vars: The dependent (target) variables.
        sql_logic: The SQL that produced the data.
        data_profile: A precomputed data profile.

    Raises:
        UnsupportedTypeError: ``data`` is not a polars ``DataFrame``.
        InvalidArgumentError: A split does not fit it.
    """

    data_type: ClassVar[DataType] = DataType.Polars
    verify_before_read: ClassVar[bool] = False
    _suffix: ClassVar[Suffix | None] = Suffix.Parquet

    @staticmethod
    def _accepts(data: Any) -> bool:
        pl = sys.modules.get("polars")  # not imported: data cannot be a polars frame
        return pl is not None and isinstance(data, pl.DataFrame)

    def _validate_data(self, data: Any) -> None:
        if not self._accepts(data):
            hint = " (call .collect() first)" if type(data).__name__ == "LazyFrame" else ""
            raise UnsupportedTypeError(
                f"PolarsData expects a polars DataFrame, got {type_name(data)}{hint}"
            )

    def _write(self, data: Any, file: Path, kwargs: dict[str, Any]) -> None:
        with translate_errors("write", file):
            data.write_parquet(file, **kwargs)

    def _read(self, file: Path, kwargs: dict[str, Any]) -> Any:
        pl = require("polars", _EXTRA)
        with translate_errors("read", file):
            return pl.read_parquet(file, **kwargs)

    def _extra_metadata(self) -> dict[str, Any]:
        return {"polars_version": require("polars", _EXTRA).__version__}
