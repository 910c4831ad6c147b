"""PandasData: a pandas DataFrame saved as Parquet (``data.parquet``) with pyarrow."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

from opsml._compat import require
from opsml.errors import InvalidArgumentError
from opsml.interfaces._data_base import DataInterface, translate_errors, type_name
from opsml.interfaces._enums import DataType
from opsml.types import Suffix

__all__ = ["PandasData"]

_EXTRA = "pandas"


class PandasData(DataInterface):
    """A pandas ``DataFrame``, saved as ``data.parquet`` with pyarrow.

    The round trip keeps the index (named, non-default, multi-level) and the dtypes pandas
    records in the Parquet metadata: nullable integers and booleans, ``category``,
    time-zone-aware datetimes, ``string``. ``DataSaveKwargs(data=...)`` goes to
    ``DataFrame.to_parquet`` and ``DataLoadKwargs(data=...)`` to ``pandas.read_parquet``
    (``engine="pyarrow"`` unless you pass another).

    Args:
        data: A ``pandas.DataFrame``.
        data_splits: How to split the data; stored as given.
        dependent_vars: The dependent (target) variables; stored as given.
        sql_logic: The SQL that produced the data; stored as given.
        data_profile: A precomputed data profile; stored as given.

    Raises:
        InvalidArgumentError: ``data`` is not a ``DataFrame``.
    """

    data_type: ClassVar[DataType] = DataType.Pandas
    _suffix: ClassVar[Suffix | None] = Suffix.Parquet

    @staticmethod
    def _accepts(data: Any) -> bool:
        pd = sys.modules.get("pandas")  # not imported: data cannot be a DataFrame
        return pd is not None and isinstance(data, pd.DataFrame)

    def _validate_data(self, data: Any) -> None:
        if not self._accepts(data):
            raise InvalidArgumentError(
                f"PandasData expects a pandas DataFrame, got {type_name(data)}"
            )

    def _write(self, data: Any, file: Path, kwargs: dict[str, Any]) -> None:
        require("pyarrow", _EXTRA)
        with translate_errors("write", file):
            data.to_parquet(file, **{"engine": "pyarrow", **kwargs})

    def _read(self, file: Path, kwargs: dict[str, Any]) -> Any:
        pd = require("pandas", _EXTRA)
        require("pyarrow", _EXTRA)
        with translate_errors("read", file):
            return pd.read_parquet(file, **{"engine": "pyarrow", **kwargs})

    def _extra_metadata(self) -> dict[str, Any]:
        return {
            "pandas_version": require("pandas", _EXTRA).__version__,
            "pyarrow_version": require("pyarrow", _EXTRA).__version__,
        }
