"""pyarrow: ``ArrowData`` (a Table saved as Parquet, ``data.parquet``, with
``pyarrow.parquet``) and ``ArrowLibrary``: how tables are split, profiled (with
``pyarrow.compute`` kernels) and described."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

from opsml._compat import require
from opsml.errors import UnsupportedTypeError
from opsml.interfaces._data_base import DataInterface, translate_errors, type_name
from opsml.interfaces._enums import DataType
from opsml.interfaces._library import DataLibrary, ProfileOptions
from opsml.interfaces._profile import (
    QUANTILES,
    CharStats,
    DataProfile,
    FeatureProfile,
    Histogram,
    NumericStats,
    StringStats,
    add_correlations,
    as_float,
    distinct,
    histogram,
    histogram_edges,
    map_columns,
    quantiles,
    top_values,
)
from opsml.interfaces._schema import FeatureSchema, column_feature
from opsml.interfaces._splits import (
    ColType,
    ColumnKind,
    ColumnSplit,
    Inequality,
    aligned_timestamp,
)
from opsml.interfaces.data._numpy import correlations
from opsml.types import Suffix

__all__ = ["ArrowData", "ArrowLibrary"]

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
        return ArrowLibrary.accepts(data)

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


# The pyarrow.compute function of each comparison.
_COMPUTE: dict[Inequality, str] = {
    Inequality.Equal: "equal",
    Inequality.GreaterThan: "greater",
    Inequality.GreaterThanEqual: "greater_equal",
    Inequality.LesserThan: "less",
    Inequality.LesserThanEqual: "less_equal",
}


class ArrowLibrary(DataLibrary):
    """pyarrow Tables: named columns, rows by position."""

    name = "pyarrow"
    kind = "a pyarrow Table"
    interface = ArrowData

    @staticmethod
    def accepts(data: Any) -> bool:
        pa = sys.modules.get("pyarrow")  # not imported: data cannot be a Table
        return pa is not None and isinstance(data, pa.Table)

    def feature_schema(self, data: Any) -> FeatureSchema | None:
        """One feature per column, typed like ``"int64"`` or ``"timestamp[us, tz=UTC]"``."""
        if not self.accepts(data):
            return None
        return FeatureSchema({field.name: column_feature(field.type) for field in data.schema})

    def profile(self, data: Any, options: ProfileOptions) -> DataProfile:
        """``pyarrow.compute`` kernels, one column at a time; correlations through numpy."""
        return _profile(data, options)

    def columns(self, data: Any) -> list[str] | None:
        return list(data.column_names)

    def n_rows(self, data: Any) -> int:
        return int(data.num_rows)

    def n_columns(self, data: Any) -> int | None:
        return int(data.num_columns)

    def column_kind(self, data: Any, name: str) -> ColumnKind:
        types = sys.modules["pyarrow"].types
        arrow_type = data.schema.field(name).type
        if types.is_dictionary(arrow_type):
            arrow_type = arrow_type.value_type
        if types.is_boolean(arrow_type):
            return "bool"
        if types.is_integer(arrow_type) or types.is_floating(arrow_type):
            return "numeric"
        if types.is_timestamp(arrow_type):
            return "timestamp"
        if types.is_date(arrow_type):
            return "date"
        if types.is_string(arrow_type) or types.is_large_string(arrow_type):
            return "string"
        return "other"

    def where(self, data: Any, split: ColumnSplit) -> Any:
        pa = sys.modules["pyarrow"]
        pc = require("pyarrow.compute", _EXTRA)
        arrow_type = data.schema.field(split.column_name).type
        column = data[split.column_name]
        value: Any = split.column_value
        if split.column_type is ColType.Timestamp:
            if pa.types.is_date(arrow_type):
                value = pa.scalar(aligned_timestamp(split, None).date(), type=arrow_type)
            else:
                value = pa.scalar(aligned_timestamp(split, arrow_type.tz), type=arrow_type)
        elif pa.types.is_dictionary(arrow_type):
            column = column.cast(arrow_type.value_type)
        mask = getattr(pc, _COMPUTE[split.inequality])(column, value)
        return data.filter(pc.fill_null(mask, False))

    def rows(self, data: Any, start: int, stop: int) -> Any:
        return data.slice(start, stop - start)

    def take(self, data: Any, indices: list[int]) -> Any:
        return data.take(indices)

    def split_columns(self, rows: Any, positions: list[int]) -> tuple[Any, Any]:
        names = [rows.column_names[i] for i in positions]
        return rows.drop_columns(names), rows.select(names)


def _numeric_stats(pa: Any, pc: Any, column: Any, bin_size: int) -> tuple[int, NumericStats | None]:
    """Null count (NaN included) and stats of a numeric arrow column."""
    if pa.types.is_decimal(column.type) or pa.types.is_float16(column.type):
        column = column.cast(pa.float64())
    n_null = column.null_count
    valid = column.drop_null() if n_null else column
    if pa.types.is_floating(column.type):
        nan = pc.is_nan(valid)
        n_nan = pc.sum(nan).as_py() or 0
        if n_nan:
            valid = valid.filter(pc.invert(nan))
            n_null += n_nan
    finite = valid
    if pa.types.is_floating(column.type) and pc.any(pc.is_inf(valid)).as_py():
        finite = valid.filter(pc.is_finite(valid))
    n = len(valid)
    if n == 0:
        return n_null, None
    extremes = pc.min_max(valid)
    at = pc.quantile(valid, q=list(QUANTILES), interpolation="linear").to_pylist()
    bins = Histogram()
    if len(finite):
        bounds = pc.min_max(finite)
        edges = histogram_edges(
            float(bounds["min"].as_py()), float(bounds["max"].as_py()), bin_size
        )
        below = [pc.sum(pc.less(finite, edge)).as_py() or 0 for edge in edges[1:-1]]
        bins = histogram(edges, below, len(finite))
    stats = NumericStats(
        mean=as_float(pc.mean(valid).as_py()),
        stddev=as_float(pc.stddev(valid, ddof=1).as_py()) if n > 1 else 0.0,
        min=as_float(extremes["min"].as_py()),
        max=as_float(extremes["max"].as_py()),
        distinct=distinct(len(pc.unique(valid)), n),
        quantiles=quantiles(at),
        histogram=bins,
    )
    return n_null, stats


def _other_stats(pa: Any, pc: Any, column: Any, top_k: int) -> StringStats | None:
    arrow_type = column.type
    if pa.types.is_nested(arrow_type):
        return None
    valid = column.drop_null()
    n = len(valid)
    if n == 0:
        return None
    if pa.types.is_dictionary(arrow_type):
        valid = valid.cast(arrow_type.value_type)
        arrow_type = arrow_type.value_type
    counts = pc.value_counts(valid)  # in order of first appearance
    order = pc.sort_indices(counts.field("counts"), sort_keys=[("", "descending")])
    top = counts.take(order[:top_k]).to_pylist()
    char_stats = None
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        lengths = pc.utf8_length(valid)
        extremes = pc.min_max(lengths)
        char_stats = CharStats(
            min_length=extremes["min"].as_py(),
            max_length=extremes["max"].as_py(),
            median_length=pc.quantile(lengths, q=0.5)[0].as_py(),
            mean_length=pc.mean(lengths).as_py(),
        )
    return StringStats(
        distinct=distinct(len(counts), n),
        char_stats=char_stats,
        word_stats=top_values(((item["values"], item["counts"]) for item in top), n),
    )


def _profile(data: Any, options: ProfileOptions) -> DataProfile:
    pa = sys.modules["pyarrow"]
    pc = require("pyarrow.compute", _EXTRA)
    numeric = [
        field.name
        for field in data.schema
        if pa.types.is_integer(field.type)
        or pa.types.is_floating(field.type)
        or pa.types.is_decimal(field.type)
    ]

    def one(name: str) -> FeatureProfile:
        column = data[name]
        numeric_stats = string_stats = None
        if name in numeric:
            n_null, numeric_stats = _numeric_stats(pa, pc, column, options.bin_size)
        else:
            n_null = column.null_count
            string_stats = _other_stats(pa, pc, column, options.top_k)
        return FeatureProfile(
            id=name,
            dtype=str(column.type),
            count=len(column) - n_null,
            null_count=n_null,
            numeric_stats=numeric_stats,
            string_stats=string_stats,
        )

    features = {f.id: f for f in map_columns(one, list(data.column_names))}
    if options.correlations:
        np = require("numpy", "numpy")
        columns = {name: data[name].to_numpy().astype(np.float64) for name in numeric}
        add_correlations(features, correlations(np, columns))
    return DataProfile(features=features)
