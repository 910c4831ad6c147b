"""PandasData: a pandas DataFrame saved as Parquet (``data.parquet``) with pyarrow."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

from opsml._compat import require
from opsml.errors import UnsupportedTypeError
from opsml.interfaces._data_base import DataInterface, translate_errors, type_name
from opsml.interfaces._enums import DataType
from opsml.types import Suffix

__all__ = ["PandasData"]

_EXTRA = "pandas"


def _restore_index_dtypes(pd: Any, frame: Any, pandas_metadata: dict[str, Any] | None) -> Any:
    """Give index levels back the extension dtypes (``string``, ``Int64``, ...) they had.

    pyarrow restores extension dtypes of columns from the pandas metadata in the file, but
    not of index levels; the metadata still records them, so they are applied here.
    """
    if not pandas_metadata:
        return frame
    recorded = {
        column.get("field_name"): column.get("numpy_type")
        for column in pandas_metadata.get("columns", [])
    }
    fields = pandas_metadata.get("index_columns", [])
    if not all(isinstance(field, str) for field in fields) or len(fields) != frame.index.nlevels:
        return frame  # a RangeIndex (stored as a range, not a column) needs nothing
    levels = []
    for position, field in enumerate(fields):
        level = frame.index.get_level_values(position)
        try:
            wanted = pd.api.types.pandas_dtype(recorded.get(field))
        except TypeError:
            wanted = None
        extension = isinstance(wanted, pd.api.extensions.ExtensionDtype)
        if extension and not isinstance(wanted, pd.CategoricalDtype) and level.dtype != wanted:
            level = level.astype(wanted)
        levels.append(level)
    if len(levels) == 1:
        frame.index = levels[0]
    else:
        frame.index = pd.MultiIndex.from_arrays(levels, names=frame.index.names)
    return frame


def _dictionary_columns(frame: Any) -> list[str] | None:
    """Columns worth dictionary encoding: all but floating-point ones.

    Parquet writers try dictionary encoding on every column by default; on floats (nearly
    always high-cardinality) the attempt costs about half the write time and leaves a file
    that reads several times slower, for no size gain. ``None`` keeps pyarrow's default
    (for column labels that are not plain strings).
    """
    pd = require("pandas", _EXTRA)
    if not all(isinstance(label, str) for label in frame.columns):
        return None
    columns = [
        label for label, dtype in frame.dtypes.items() if not pd.api.types.is_float_dtype(dtype)
    ]
    if not isinstance(frame.index, pd.RangeIndex):  # a RangeIndex is stored as metadata
        columns += [
            name if isinstance(name, str) else f"__index_level_{level}__"
            for level, name in enumerate(frame.index.names)
        ]
    return columns


class PandasData(DataInterface):
    """A pandas ``DataFrame``, saved as ``data.parquet`` with pyarrow.

    The round trip keeps the index (named, non-default, multi-level) and the dtypes pandas
    records in the Parquet metadata: nullable integers and booleans, ``category``,
    time-zone-aware datetimes, ``string``. ``DataSaveKwargs(data=...)`` goes to
    ``DataFrame.to_parquet`` and ``DataLoadKwargs(data=...)`` to ``pandas.read_parquet``
    (``engine="pyarrow"`` unless you pass another). Floating-point columns are written
    without dictionary encoding (it only slows writes and reads of high-cardinality floats);
    pass ``DataSaveKwargs(data={"use_dictionary": True})`` for pandas' default.

    Args:
        data: A ``pandas.DataFrame``.
        data_splits: How to split the data.
        dependent_vars: The dependent (target) variables.
        sql_logic: The SQL that produced the data.
        data_profile: A precomputed data profile.

    Raises:
        UnsupportedTypeError: ``data`` is not a ``DataFrame``.
        InvalidArgumentError: A split does not fit it.
    """

    data_type: ClassVar[DataType] = DataType.Pandas
    verify_before_read: ClassVar[bool] = False
    _suffix: ClassVar[Suffix | None] = Suffix.Parquet

    @staticmethod
    def _accepts(data: Any) -> bool:
        pd = sys.modules.get("pandas")  # not imported: data cannot be a DataFrame
        return pd is not None and isinstance(data, pd.DataFrame)

    def _validate_data(self, data: Any) -> None:
        if not self._accepts(data):
            raise UnsupportedTypeError(
                f"PandasData expects a pandas DataFrame, got {type_name(data)}"
            )

    def _write(self, data: Any, file: Path, kwargs: dict[str, Any]) -> None:
        require("pyarrow", _EXTRA)
        options = {"engine": "pyarrow", **kwargs}
        if "use_dictionary" not in options:
            dictionary_columns = _dictionary_columns(data)
            if dictionary_columns is not None:
                options["use_dictionary"] = dictionary_columns
        with translate_errors("write", file):
            data.to_parquet(file, **options)

    def _read(self, file: Path, kwargs: dict[str, Any]) -> Any:
        pd = require("pandas", _EXTRA)
        require("pyarrow", _EXTRA)
        parquet = require("pyarrow.parquet", _EXTRA)
        with translate_errors("read", file):
            frame = pd.read_parquet(file, **{"engine": "pyarrow", **kwargs})
            return _restore_index_dtypes(pd, frame, parquet.read_schema(file).pandas_metadata)

    def _extra_metadata(self) -> dict[str, Any]:
        return {
            "pandas_version": require("pandas", _EXTRA).__version__,
            "pyarrow_version": require("pyarrow", _EXTRA).__version__,
        }
