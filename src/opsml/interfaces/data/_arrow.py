"""ArrowData: a pyarrow Table saved as Parquet (``data.parquet``) with ``pyarrow.parquet``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

from opsml._compat import require
from opsml.errors import UnsupportedTypeError
from opsml.interfaces._data_base import DataInterface, translate_errors, type_name
from opsml.interfaces._enums import DataType
from opsml.types import Suffix

__all__ = ["ArrowData"]

_EXTRA = "arrow"
# Keep list fields' names ("item") instead of Parquet's "element", so the schema round-trips.
_WRITE_DEFAULTS: dict[str, Any] = {"use_compliant_nested_type": False}


class ArrowData(DataInterface):
    """A pyarrow ``Table``, saved as ``data.parquet`` with ``pyarrow.parquet.write_table``.

    The Arrow schema is stored in the file, so the round trip keeps the column types and
    the schema and field metadata; list fields keep their names because the file is written
    with ``use_compliant_nested_type=False`` (pass ``True`` for Parquet's ``element``
    naming). ``DataSaveKwargs(data=...)`` goes to ``pyarrow.parquet.write_table`` (e.g.
    ``{"compression": "zstd"}``) and
    ``DataLoadKwargs(data=...)`` to ``pyarrow.parquet.read_table`` (e.g.
    ``{"columns": ["a"]}``).

    Args:
        data: A ``pyarrow.Table``.
        data_splits: How to split the data.
        dependent_vars: The dependent (target) variables.
        sql_logic: The SQL that produced the data.
        data_profile: A precomputed data profile.

    Raises:
        UnsupportedTypeError: ``data`` is not a pyarrow ``Table``.
        InvalidArgumentError: A split does not fit it.
    """

    data_type: ClassVar[DataType] = DataType.Arrow
    verify_before_read: ClassVar[bool] = False
    _suffix: ClassVar[Suffix | None] = Suffix.Parquet

    @staticmethod
    def _accepts(data: Any) -> bool:
        pa = sys.modules.get("pyarrow")  # not imported: data cannot be a Table
        return pa is not None and isinstance(data, pa.Table)

    def _validate_data(self, data: Any) -> None:
        if not self._accepts(data):
            raise UnsupportedTypeError(f"ArrowData expects a pyarrow Table, got {type_name(data)}")

    def _write(self, data: Any, file: Path, kwargs: dict[str, Any]) -> None:
        parquet = require("pyarrow.parquet", _EXTRA)
        with translate_errors("write", file):
            parquet.write_table(data, file, **{**_WRITE_DEFAULTS, **kwargs})

    def _read(self, file: Path, kwargs: dict[str, Any]) -> Any:
        parquet = require("pyarrow.parquet", _EXTRA)
        with translate_errors("read", file):
            return parquet.read_table(file, **kwargs)

    def _extra_metadata(self) -> dict[str, Any]:
        return {"pyarrow_version": require("pyarrow", _EXTRA).__version__}
