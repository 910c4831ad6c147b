"""pandas: ``PandasData`` (a DataFrame saved as Parquet, ``data.parquet``, with pyarrow) and
``PandasLibrary``: how frames are split, profiled and described."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any, ClassVar

from opsml._compat import require
from opsml.errors import UnsupportedTypeError
from opsml.interfaces._data_base import DataInterface, translate_errors, type_name
from opsml.interfaces._enums import DataType
from opsml.interfaces._library import DataLibrary, ProfileOptions
from opsml.interfaces._profile import (
    DataProfile,
    FeatureProfile,
    StringStats,
    add_correlations,
    distinct,
    map_columns,
    top_values,
)
from opsml.interfaces._schema import FeatureSchema, column_feature
from opsml.interfaces._splits import ColType, ColumnKind, ColumnSplit, aligned_timestamp
from opsml.interfaces.data._numpy import correlations, length_stats, numeric_column_stats
from opsml.types import Suffix

__all__ = ["PandasData", "PandasLibrary"]

_EXTRA = "pandas"
_UNNAMED_SERIES_KEY = "series"


def _read_parquet_file(pd: Any, parquet: Any, file: Path) -> tuple[Any, dict[str, Any] | None]:
    """Read one Parquet file as ``pd.read_parquet(file, engine="pyarrow")`` does, and its
    pandas metadata.

    ``pd.read_parquet`` reads through ``pyarrow.parquet.read_table``, which builds a dataset
    (importing ``pyarrow.dataset``, ~10 ms, and reading the footer twice with the separate
    ``read_schema``) even for a single file; here the file is read once with ``ParquetFile``
    and converted with ``DataFrame.from_arrow`` (pandas >= 3.0), the conversion
    ``read_parquet`` applies, so dtypes, index and ``attrs`` come out the same.
    """
    with parquet.ParquetFile(file) as reader:
        table = reader.read(use_pandas_metadata=True)
    with warnings.catch_warnings():  # as read_parquet: older pyarrow calls a deprecated API
        warnings.filterwarnings("ignore", "make_block is deprecated")
        frame = pd.DataFrame.from_arrow(table)
    attrs = (table.schema.metadata or {}).get(b"PANDAS_ATTRS")
    if attrs is not None:  # read_parquet restores DataFrame.attrs the same way
        frame.attrs = json.loads(attrs)
    return frame, table.schema.pandas_metadata


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
        return PandasLibrary.accepts(data)

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
            if kwargs or not hasattr(pd.DataFrame, "from_arrow"):
                frame = pd.read_parquet(file, **{"engine": "pyarrow", **kwargs})
                pandas_metadata = parquet.read_schema(file).pandas_metadata
            else:
                frame, pandas_metadata = _read_parquet_file(pd, parquet, file)
            return _restore_index_dtypes(pd, frame, pandas_metadata)

    def _extra_metadata(self) -> dict[str, Any]:
        return {
            "pandas_version": require("pandas", _EXTRA).__version__,
            "pyarrow_version": require("pyarrow", _EXTRA).__version__,
        }


class PandasLibrary(DataLibrary):
    """pandas DataFrames: named columns (labels compared as text), rows by position."""

    name = "pandas"
    kind = "a pandas DataFrame"
    interface = PandasData

    @staticmethod
    def accepts(data: Any) -> bool:
        pd = sys.modules.get("pandas")  # not imported: data cannot be a DataFrame
        return pd is not None and isinstance(data, pd.DataFrame)

    def feature_schema(self, data: Any) -> FeatureSchema | None:
        """One feature per column of a DataFrame; one named after a Series (or ``series``)."""
        pd = sys.modules.get("pandas")
        if pd is None:
            return None
        if isinstance(data, pd.DataFrame):
            return FeatureSchema(
                {str(name): column_feature(dtype) for name, dtype in data.dtypes.items()}
            )
        if isinstance(data, pd.Series):
            name = _UNNAMED_SERIES_KEY if data.name is None else str(data.name)
            return FeatureSchema({name: column_feature(data.dtype)})
        return None

    def profile(self, data: Any, options: ProfileOptions) -> DataProfile:
        """Numeric columns through the numpy kernel, others with ``value_counts``; one column
        at a time."""
        return _profile(data, options)

    def columns(self, data: Any) -> list[str] | None:
        return [str(c) for c in data.columns]

    def n_rows(self, data: Any) -> int:
        return int(data.shape[0])

    def n_columns(self, data: Any) -> int | None:
        return int(data.shape[1])

    def column_kind(self, data: Any, name: str) -> ColumnKind:
        pd = sys.modules["pandas"]
        types = pd.api.types
        dtype = data[_label(data, name)].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            dtype = dtype.categories.dtype
        if types.is_bool_dtype(dtype):
            return "bool"
        if types.is_numeric_dtype(dtype):
            return "numeric"
        if types.is_datetime64_any_dtype(dtype):
            return "timestamp"
        if types.is_string_dtype(dtype) and not types.is_object_dtype(dtype):
            return "string"
        return "other"

    def where(self, data: Any, split: ColumnSplit) -> Any:
        column = data[_label(data, split.column_name)]
        value: Any = split.column_value
        if split.column_type is ColType.Timestamp:
            pd = sys.modules["pandas"]
            value = pd.Timestamp(aligned_timestamp(split, getattr(column.dtype, "tz", None)))
        mask = split.inequality.compare(column, value)
        return data[mask.fillna(False).astype(bool)]

    def rows(self, data: Any, start: int, stop: int) -> Any:
        return data.iloc[start:stop]

    def take(self, data: Any, indices: list[int]) -> Any:
        return data.iloc[indices]

    def split_columns(self, rows: Any, positions: list[int]) -> tuple[Any, Any]:
        labels = [rows.columns[i] for i in positions]
        return rows.drop(columns=labels), rows[labels]


def _label(data: Any, name: str) -> Any:
    """The label of the (existing) column whose text is ``name``."""
    return next(label for label in data.columns if str(label) == name)


def _numeric_values(np: Any, series: Any) -> tuple[Any, int]:
    """A numpy view (or copy) of a numeric series' values, and how many nulls were dropped."""
    if isinstance(series.dtype, np.dtype):
        return series.to_numpy(), 0
    valid = series.dropna()  # nullable, pyarrow-backed and sparse dtypes
    dtype = getattr(series.dtype, "numpy_dtype", np.float64)
    return valid.to_numpy(dtype=dtype), len(series) - len(valid)


def _other_stats(pd: Any, np: Any, series: Any, top_k: int) -> tuple[int, StringStats | None]:
    n_null = int(series.isna().sum())
    n = len(series) - n_null
    if n == 0:
        return n_null, None
    try:
        counts = series.value_counts(dropna=True, sort=False)
    except TypeError:  # unhashable objects (lists, dicts): counted only
        return n_null, None
    counts = counts[counts > 0].sort_values(ascending=False, kind="stable")
    values = counts.index.to_numpy()
    char_stats = None
    if pd.api.types.infer_dtype(values, skipna=True) == "string":
        lengths = np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))
        char_stats = length_stats(np, lengths, counts.to_numpy())
    top = counts.head(top_k)
    return n_null, StringStats(
        distinct=distinct(len(counts), n),
        char_stats=char_stats,
        word_stats=top_values(zip(top.index.tolist(), top.tolist(), strict=True), n),
    )


def _profile(data: Any, options: ProfileOptions) -> DataProfile:
    pd = sys.modules["pandas"]
    np = require("numpy", _EXTRA)
    types = pd.api.types
    numeric = [
        i
        for i, dtype in enumerate(data.dtypes)
        if types.is_numeric_dtype(dtype)
        and not types.is_bool_dtype(dtype)
        and not types.is_complex_dtype(dtype)
    ]

    def one(position: int) -> FeatureProfile:
        series = data.iloc[:, position]
        numeric_stats = string_stats = None
        if position in numeric:
            values, n_null = _numeric_values(np, series)
            nan_count, numeric_stats = numeric_column_stats(np, values, options.bin_size)
            n_null += nan_count
        else:
            n_null, string_stats = _other_stats(pd, np, series, options.top_k)
        return FeatureProfile(
            id=str(data.columns[position]),
            dtype=str(series.dtype),
            count=len(series) - n_null,
            null_count=n_null,
            numeric_stats=numeric_stats,
            string_stats=string_stats,
        )

    features = {f.id: f for f in map_columns(one, list(range(data.shape[1])))}
    if options.correlations:
        columns = {
            str(data.columns[i]): data.iloc[:, i].to_numpy(dtype=np.float64, na_value=np.nan)
            for i in numeric
        }
        add_correlations(features, correlations(np, columns))
    return DataProfile(features=features)
