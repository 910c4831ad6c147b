"""polars: ``PolarsData`` (a DataFrame saved as Parquet, ``data.parquet``, with polars' own
writer) and ``PolarsLibrary``: how frames are split, profiled (with expressions evaluated in
a few ``select`` passes) and described."""

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
    quantiles,
    top_values,
)
from opsml.interfaces._schema import Feature, FeatureSchema
from opsml.interfaces._splits import ColType, ColumnKind, ColumnSplit, aligned_timestamp
from opsml.types import Suffix

__all__ = ["PolarsData", "PolarsLibrary"]

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
        return PolarsLibrary.accepts(data)

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


class PolarsLibrary(DataLibrary):
    """polars DataFrames: named columns, rows by position."""

    name = "polars"
    kind = "a polars DataFrame"
    interface = PolarsData

    @staticmethod
    def accepts(data: Any) -> bool:
        pl = sys.modules.get("polars")  # not imported: data cannot be a polars frame
        return pl is not None and isinstance(data, pl.DataFrame)

    def feature_schema(self, data: Any) -> FeatureSchema | None:
        """One feature per column, typed by the dtype's class (OpsML 3's ``"Datetime"``,
        ``"Decimal"``, ``"List"``); parameters such as the time zone in ``extra_args["dtype"]``."""
        if not self.accepts(data):
            return None
        return FeatureSchema({name: _feature(dtype) for name, dtype in data.schema.items()})

    def profile(self, data: Any, options: ProfileOptions) -> DataProfile:
        """Three ``select`` passes over the frame (counts, statistics, histograms), plus two
        per non-numeric column (value counts, lengths)."""
        return _profile(data, options)

    def columns(self, data: Any) -> list[str] | None:
        return list(data.columns)

    def n_rows(self, data: Any) -> int:
        return int(data.height)

    def n_columns(self, data: Any) -> int | None:
        return int(data.width)

    def column_kind(self, data: Any, name: str) -> ColumnKind:
        pl = sys.modules["polars"]
        dtype = data.schema[name]
        if dtype == pl.Boolean:
            return "bool"
        if dtype.is_numeric():
            return "numeric"
        if isinstance(dtype, pl.Datetime):
            return "timestamp"
        if dtype == pl.Date:
            return "date"
        if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
            return "string"
        return "other"

    def where(self, data: Any, split: ColumnSplit) -> Any:
        pl = sys.modules["polars"]
        dtype = data.schema[split.column_name]
        column = pl.col(split.column_name)
        value: Any = split.column_value
        if split.column_type is ColType.Timestamp:
            if dtype == pl.Date:
                value = pl.lit(aligned_timestamp(split, None).date())
            else:
                value = pl.lit(aligned_timestamp(split, dtype.time_zone), dtype=dtype)
        elif isinstance(dtype, pl.Categorical | pl.Enum):
            column = column.cast(pl.String)
        return data.filter(split.inequality.compare(column, value).fill_null(False))

    def rows(self, data: Any, start: int, stop: int) -> Any:
        return data.slice(start, stop - start)

    def take(self, data: Any, indices: list[int]) -> Any:
        return data[indices]

    def split_columns(self, rows: Any, positions: list[int]) -> tuple[Any, Any]:
        names = [rows.columns[i] for i in positions]
        return rows.drop(names), rows.select(names)


def _feature(dtype: Any) -> Feature:
    # OpsML 3 names the dtype's class ("Datetime", "Decimal", "List"); the parameters
    # (time unit and zone, precision, inner type) are kept in extra_args["dtype"].
    name = str(dtype.base_type().__name__)
    full = str(dtype)
    return Feature(feature_type=name, shape=[1], extra_args={} if full == name else {"dtype": full})


def _is_numeric(pl: Any, dtype: Any) -> bool:
    return bool(dtype.is_numeric()) and dtype != pl.Boolean


def _profile(data: Any, options: ProfileOptions) -> DataProfile:
    bin_size = options.bin_size
    pl = sys.modules["polars"]
    schema = data.schema
    numeric = [c for c, t in schema.items() if _is_numeric(pl, t)]
    floats = [c for c in numeric if schema[c].is_float()]

    # Pass 1: nulls, NaNs (missing, like in pandas and numpy) and infinities.
    counted = data.select(
        *[pl.col(c).null_count().alias(f"{c}\x00null") for c in data.columns],
        *[pl.col(c).is_nan().sum().alias(f"{c}\x00nan") for c in floats],
        *[pl.col(c).is_infinite().sum().alias(f"{c}\x00inf") for c in floats],
    ).row(0, named=True)
    nulls = {c: counted[f"{c}\x00null"] + counted.get(f"{c}\x00nan", 0) for c in data.columns}

    def valid(c: str) -> Any:
        column = pl.col(c)
        if counted.get(f"{c}\x00nan"):
            column = column.fill_nan(None)
        if schema[c].is_decimal():
            column = column.cast(pl.Float64)
        return column

    def finite(c: str) -> Any:
        column = valid(c)
        return column.filter(column.is_finite()) if counted.get(f"{c}\x00inf") else column

    def below(c: str, edge: float) -> Any:
        column = valid(c)
        is_below = column < edge
        return (is_below & column.is_finite() if counted.get(f"{c}\x00inf") else is_below).sum()

    # Pass 2: numeric statistics of every numeric column in one select.
    exprs = []
    for c in numeric:
        v, f = valid(c), finite(c)
        exprs += [
            v.n_unique().alias(f"{c}\x00unique"),
            v.mean().alias(f"{c}\x00mean"),
            v.std(ddof=1).alias(f"{c}\x00std"),
            v.min().cast(pl.Float64).alias(f"{c}\x00min"),
            v.max().cast(pl.Float64).alias(f"{c}\x00max"),
            f.min().cast(pl.Float64).alias(f"{c}\x00fmin"),
            f.max().cast(pl.Float64).alias(f"{c}\x00fmax"),
            f.count().alias(f"{c}\x00finite"),
            *[
                v.quantile(q, interpolation="linear").alias(f"{c}\x00q{i}")
                for i, q in enumerate(QUANTILES)
            ],
        ]
    stats = data.select(exprs).row(0, named=True) if exprs else {}

    # Pass 3: histograms, counting the finite values below each inner edge.
    edges: dict[str, list[float]] = {}
    for c in numeric:
        if stats[f"{c}\x00finite"]:
            edges[c] = histogram_edges(stats[f"{c}\x00fmin"], stats[f"{c}\x00fmax"], bin_size)
    n_below = (
        data.select(
            below(c, edge).alias(f"{c}\x00{i}")
            for c, c_edges in edges.items()
            for i, edge in enumerate(c_edges[1:-1])
        ).row(0, named=True)
        if edges and bin_size > 1
        else {}
    )

    features: dict[str, FeatureProfile] = {}
    for c in data.columns:
        count = data.height - nulls[c]
        numeric_stats = string_stats = None
        if c in numeric and count:
            n_unique = stats[f"{c}\x00unique"] - (1 if nulls[c] else 0)  # null is one value
            bins = Histogram()
            if c in edges:
                counts = [n_below[f"{c}\x00{i}"] for i in range(bin_size - 1)]
                bins = histogram(edges[c], counts, stats[f"{c}\x00finite"])
            numeric_stats = NumericStats(
                mean=as_float(stats[f"{c}\x00mean"]),
                stddev=as_float(stats[f"{c}\x00std"]) if count > 1 else 0.0,
                min=as_float(stats[f"{c}\x00min"]),
                max=as_float(stats[f"{c}\x00max"]),
                distinct=distinct(n_unique, count),
                quantiles=quantiles(
                    [as_float(stats[f"{c}\x00q{i}"]) for i in range(len(QUANTILES))]
                ),
                histogram=bins,
            )
        elif c not in numeric and count:
            string_stats = _other_stats(pl, data, c, count, options.top_k)
        features[c] = FeatureProfile(
            id=c,
            dtype=str(schema[c]),
            count=count,
            null_count=nulls[c],
            numeric_stats=numeric_stats,
            string_stats=string_stats,
        )
    if options.correlations and len(numeric) > 1:
        pairs = [(a, b) for i, a in enumerate(numeric) for b in numeric[i + 1 :]]
        values = data.select(
            pl.corr(valid(a), valid(b)).alias(f"{a}\x00{b}") for a, b in pairs
        ).row(0, named=True)
        add_correlations(features, {(a, b): as_float(values[f"{a}\x00{b}"]) for a, b in pairs})
    return DataProfile(features=features)


def _other_stats(pl: Any, data: Any, c: str, count: int, top_k: int) -> StringStats | None:
    dtype = data.schema[c]
    if dtype.is_nested() or dtype == pl.Object:
        return None
    column = pl.col(c).drop_nulls()
    counts = data.select(column.value_counts(sort=False, name="n")).unnest(c)
    top = counts.sort(["n", c], descending=[True, False], nulls_last=True).head(top_k)
    char_stats = None
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        lengths = column.cast(pl.String).str.len_chars()
        row = data.select(
            lengths.min().alias("min"),
            lengths.max().alias("max"),
            lengths.median().alias("median"),
            lengths.mean().alias("mean"),
        ).row(0, named=True)
        char_stats = CharStats(
            min_length=row["min"],
            max_length=row["max"],
            median_length=row["median"],
            mean_length=row["mean"],
        )
    return StringStats(
        distinct=distinct(counts.height, count),
        char_stats=char_stats,
        word_stats=top_values(top.iter_rows(), count),
    )
