"""Data profiles: per-column statistics computed with the data's own library.

:func:`create_data_profile` describes every column of a pandas/polars DataFrame, a pyarrow
Table, a numpy array or a torch tensor as a :class:`FeatureProfile`:

- every column: ``count`` (non-missing values) and ``null_count`` (nulls, and NaN in
  float columns);
- numeric columns (integers and floats; NaN ignored): :class:`NumericStats` with distinct
  count, mean, sample standard deviation, min, max, quantiles (25/50/75/99, linear
  interpolation) and a histogram of ``bin_size`` equal-width bins over the finite values,
  with numpy's edge rules (bins are ``[a, b)``, the last one ``[a, b]``);
- other columns (strings, categoricals, booleans, dates, ...): :class:`StringStats` with
  distinct count, the ``top_k`` most frequent values and, for text, character-length
  statistics.

How each library is used, so that profiling stays fast and memory-lean on large data:
pandas, numpy and torch columns go through one numpy kernel, one column at a time on a
small thread pool (a sorted copy of one column gives distinct count, quantiles and the
histogram, so the extra memory is a few columns, never the frame); polars uses expressions
evaluated in a few ``select`` passes; pyarrow uses ``pyarrow.compute`` kernels.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from opsml._compat import require
from opsml.errors import InvalidArgumentError
from opsml.interfaces._enums import DataType
from opsml.types import SaveName, Suffix

__all__ = [
    "CharStats",
    "DataProfile",
    "Distinct",
    "FeatureProfile",
    "Histogram",
    "NumericStats",
    "Quantiles",
    "StringStats",
    "WordStats",
    "create_data_profile",
]

QUANTILES = (0.25, 0.5, 0.75, 0.99)
_CHUNK = 1 << 16  # rows per chunk when summing squares: small temporaries, cache friendly
_T = TypeVar("_T")
_R = TypeVar("_R")


class _ProfileModel(BaseModel):
    # inf and NaN are written as "Infinity"/"NaN" strings (valid JSON) and read back.
    model_config = ConfigDict(defer_build=True, ser_json_inf_nan="strings")


class Distinct(_ProfileModel):
    """How many different values a column holds.

    Attributes:
        count: The number of distinct non-missing values (or the occurrences of one value,
            in ``WordStats.words``).
        percent: ``count`` as a fraction (0 to 1) of the column's non-missing values.
    """

    count: int
    percent: float


class Quantiles(_ProfileModel):
    """Quantiles of a numeric column (linear interpolation, as ``numpy.quantile``)."""

    q25: float
    q50: float
    q75: float
    q99: float


class Histogram(_ProfileModel):
    """Equal-width histogram of a column's finite values.

    Attributes:
        bins: The ``bin_size + 1`` bin edges; bin ``i`` is ``[bins[i], bins[i + 1])``, the
            last bin also holds its right edge (numpy's rules).
        bin_counts: The number of values in each bin.
    """

    bins: list[float] = Field(default_factory=list)
    bin_counts: list[int] = Field(default_factory=list)


class NumericStats(_ProfileModel):
    """Statistics of a numeric column, over its non-missing values.

    Attributes:
        mean: The mean.
        stddev: The sample standard deviation (``ddof=1``; 0 for a single value).
        min: The smallest value.
        max: The largest value.
        distinct: Distinct values.
        quantiles: The 25th, 50th, 75th and 99th percentiles.
        histogram: Histogram of the finite values.
    """

    mean: float
    stddev: float
    min: float
    max: float
    distinct: Distinct
    quantiles: Quantiles
    histogram: Histogram


class CharStats(_ProfileModel):
    """Lengths (in characters) of a text column's values."""

    min_length: int
    max_length: int
    median_length: float
    mean_length: float


class WordStats(_ProfileModel):
    """The most frequent values of a column.

    Attributes:
        words: Value (as text) to its number of occurrences and fraction of the non-missing
            values, most frequent first; ties keep the order the library reports them in.
    """

    words: dict[str, Distinct] = Field(default_factory=dict)


class StringStats(_ProfileModel):
    """Statistics of a non-numeric column (text, categorical, boolean, date/time, ...).

    Attributes:
        distinct: Distinct values.
        char_stats: Character-length statistics, for text columns only.
        word_stats: The most frequent values.
    """

    distinct: Distinct
    char_stats: CharStats | None = None
    word_stats: WordStats = Field(default_factory=WordStats)


class FeatureProfile(_ProfileModel):
    """The profile of one column.

    Attributes:
        id: The column name (``feature_<i>`` for array columns).
        dtype: The column's type as its library names it.
        count: Non-missing values.
        null_count: Missing values: nulls, and NaN in float columns.
        numeric_stats: For numeric columns with at least one value.
        string_stats: For other columns with at least one value (not for nested types).
        timestamp: When the profile was computed (UTC).
        correlations: Pearson correlation with each other numeric column, when asked for.
    """

    id: str
    dtype: str
    count: int
    null_count: int
    numeric_stats: NumericStats | None = None
    string_stats: StringStats | None = None
    timestamp: datetime = Field(default_factory=lambda: datetime.now(UTC))
    correlations: dict[str, float] | None = None


class DataProfile(_ProfileModel):
    """The profile of a dataset: one :class:`FeatureProfile` per column, in column order.

    Stored in a DataCard as ``data-profile.json``. ``model_dump_json()`` /
    ``DataProfile.model_validate_json(text)`` round-trip it.

    Attributes:
        features: Column name to its profile.
    """

    features: dict[str, FeatureProfile] = Field(default_factory=dict)

    def __str__(self) -> str:
        return self.model_dump_json(indent=2)

    def save_to_json(self, path: Path | str | None = None) -> Path:
        """Write the profile as JSON.

        Args:
            path: The file to write (default ``data-profile.json`` in the current folder).

        Returns:
            The file written.
        """
        target = Path(path) if path is not None else Path(f"{SaveName.DataProfile}.{Suffix.Json}")
        target.write_text(self.model_dump_json(), encoding="utf-8")
        return target


def create_data_profile(
    data: Any,
    data_type: DataType | None = None,
    bin_size: int = 20,
    compute_correlations: bool = False,
    top_k: int = 10,
) -> DataProfile:
    """Profile ``data`` with its own library.

    Args:
        data: A pandas or polars DataFrame, a pyarrow Table, a numpy array (each column of
            a 2-D array is a feature ``feature_<i>``; more dimensions are flattened per row)
            or a torch tensor (profiled like its numpy array).
        data_type: Accepted for OpsML 3 compatibility; the object's type decides.
        bin_size: Number of histogram bins of numeric columns.
        compute_correlations: Also compute the Pearson correlation between every two
            numeric columns (pairwise complete rows; one more pass per pair).
        top_k: How many most-frequent values to keep for non-numeric columns.

    Returns:
        The profile.

    Raises:
        InvalidArgumentError: ``data`` is of another type, or ``bin_size``/``top_k`` < 1.
    """
    del data_type
    if bin_size < 1 or top_k < 1:
        raise InvalidArgumentError("bin_size and top_k must be at least 1")
    for module_name, class_name, profiler in _PROFILERS:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(data, getattr(module, class_name)):
            return profiler(data, bin_size, compute_correlations, top_k)
    raise InvalidArgumentError(
        f"cannot profile a {type(data).__module__}.{type(data).__qualname__}: data profiles "
        "work on pandas/polars DataFrames, pyarrow Tables, numpy arrays and torch tensors"
    )


# --- shared helpers -------------------------------------------------------------------------


def _edges(lo: float, hi: float, bins: int) -> list[float]:
    """Equal-width bin edges exactly as ``numpy.histogram`` computes them (without numpy)."""
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    step = (hi - lo) / bins
    edges = [i * step + lo for i in range(bins)]
    edges.append(hi)
    return edges


def _histogram(edges: list[float], below: Sequence[int], n_finite: int) -> Histogram:
    """Counts per bin from the number of values below each inner edge."""
    cumulative = [0, *below, n_finite]
    return Histogram(
        bins=edges, bin_counts=[cumulative[i + 1] - cumulative[i] for i in range(len(edges) - 1)]
    )


def _distinct(count: int, total: int) -> Distinct:
    return Distinct(count=count, percent=count / total if total else 0.0)


def _words(top: Iterable[tuple[Any, int]], total: int) -> WordStats:
    return WordStats(words={str(value): _distinct(int(n), total) for value, n in top})


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _map_columns(fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """Apply ``fn`` to each column on a small thread pool (numpy and arrow release the GIL)."""
    workers = min(4, os.cpu_count() or 1, len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def _add_correlations(
    profile: dict[str, FeatureProfile], correlations: dict[tuple[str, str], float]
) -> None:
    for (a, b), value in correlations.items():
        for this, other in ((a, b), (b, a)):
            feature = profile[this]
            feature.correlations = {**(feature.correlations or {}), other: value}


# --- numpy kernel (pandas, numpy, torch) ----------------------------------------------------


def _sorted_numeric_stats(np: Any, values: Any, bin_size: int) -> tuple[int, NumericStats | None]:
    """Null count and stats of a 1-D int/float array, from one sorted copy of its values."""
    with np.errstate(all="ignore"):
        if values.dtype.kind == "f":
            if values.dtype.itemsize < 4:
                values = values.astype(np.float32)
            missing = np.isnan(values)
            n_null = int(np.count_nonzero(missing))
            ordered = values[~missing] if n_null else values.copy()
            del missing
        else:
            n_null = 0
            ordered = values.copy()
        ordered.sort()
        n = int(ordered.size)
        if n == 0:
            return n_null, None
        mean = float(np.mean(ordered, dtype=np.float64))
        squares = 0.0
        for start in range(0, n, _CHUNK):
            centred = ordered[start : start + _CHUNK].astype(np.float64) - mean
            squares += float(np.square(centred, out=centred).sum())  # no BLAS threads
        positions = np.asarray(QUANTILES) * (n - 1)
        low = np.floor(positions).astype(np.intp)
        fraction = positions - low
        below_q, above_q = ordered[low].astype(np.float64), ordered[np.minimum(low + 1, n - 1)]
        quantiles = np.where(fraction == 0, below_q, below_q + (above_q - below_q) * fraction)
        distinct = int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1
        histogram = Histogram()
        if ordered.dtype.kind == "f":
            first = int(np.searchsorted(ordered, -np.inf, side="right"))
            finite = ordered[first : int(np.searchsorted(ordered, np.inf, side="left"))]
        else:
            finite = ordered
        if finite.size:
            edges = _edges(float(finite[0]), float(finite[-1]), bin_size)
            below = np.searchsorted(finite, np.asarray(edges[1:-1]), side="left")
            histogram = _histogram(edges, below.tolist(), int(finite.size))
        stats = NumericStats(
            mean=mean,
            stddev=math.sqrt(squares / (n - 1)) if n > 1 else 0.0,
            min=float(ordered[0]),
            max=float(ordered[-1]),
            distinct=_distinct(distinct, n),
            quantiles=Quantiles(
                **dict(zip(("q25", "q50", "q75", "q99"), quantiles.tolist(), strict=True))
            ),
            histogram=histogram,
        )
        return n_null, stats


def _numpy_correlations(np: Any, columns: dict[str, Any]) -> dict[tuple[str, str], float]:
    names = list(columns)
    result: dict[tuple[str, str], float] = {}
    with np.errstate(all="ignore"):
        for i, a_name in enumerate(names):
            for b_name in names[i + 1 :]:
                a = columns[a_name].astype(np.float64, copy=False)
                b = columns[b_name].astype(np.float64, copy=False)
                both = np.isfinite(a) & np.isfinite(b)
                if not both.all():
                    a, b = a[both], b[both]
                value = float(np.corrcoef(a, b)[0, 1]) if a.size > 1 else math.nan
                result[(a_name, b_name)] = value
    return result


def _numpy_other_stats(np: Any, values: Any, top_k: int) -> tuple[int, StringStats | None]:
    """Null count and value statistics of a non-numeric 1-D numpy array."""
    kind = values.dtype.kind
    if kind in "mM":
        missing = np.isnat(values)
        values = values[~missing]
        n_null = int(np.count_nonzero(missing))
    elif kind in "bUS":
        n_null = 0
    else:  # complex, structured, objects: counted only
        return 0, None
    n = int(values.size)
    if n == 0:
        return n_null, None
    uniques, first, counts = np.unique(values, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))[:top_k]
    char_stats = None
    if kind in "US":
        char_stats = _length_stats(np, np.char.str_len(uniques), counts)
    top = [(uniques[i], int(counts[i])) for i in order]
    return n_null, StringStats(
        distinct=_distinct(int(uniques.size), n), char_stats=char_stats, word_stats=_words(top, n)
    )


def _profile_numpy_columns(
    np: Any, columns: dict[str, Any], bin_size: int, correlations: bool, top_k: int
) -> DataProfile:
    """Profile named 1-D numpy arrays (numeric ones through the sorted kernel)."""

    def one(item: tuple[str, Any]) -> FeatureProfile:
        name, values = item
        if values.dtype.kind in "iuf":
            n_null, numeric = _sorted_numeric_stats(np, values, bin_size)
            string = None
        else:
            numeric = None
            n_null, string = _numpy_other_stats(np, values, top_k)
        return FeatureProfile(
            id=name,
            dtype=str(values.dtype),
            count=int(values.size) - n_null,
            null_count=n_null,
            numeric_stats=numeric,
            string_stats=string,
        )

    features = {f.id: f for f in _map_columns(one, list(columns.items()))}
    if correlations:
        numeric = {k: v for k, v in columns.items() if v.dtype.kind in "iuf"}
        _add_correlations(features, _numpy_correlations(np, numeric))
    return DataProfile(features=features)


def _profile_numpy(data: Any, bin_size: int, correlations: bool, top_k: int) -> DataProfile:
    np = sys.modules["numpy"]
    if data.ndim == 0:
        raise InvalidArgumentError("cannot profile a 0-dimensional array")
    matrix = data.reshape(data.shape[0], -1) if data.ndim != 1 else data[:, None]
    columns = {f"feature_{i}": matrix[:, i] for i in range(matrix.shape[1])}
    return _profile_numpy_columns(np, columns, bin_size, correlations, top_k)


def _profile_torch(data: Any, bin_size: int, correlations: bool, top_k: int) -> DataProfile:
    torch = sys.modules["torch"]
    tensor = data.detach().cpu()
    if tensor.layout != torch.strided:
        tensor = tensor.to_dense()
    if tensor.dtype.is_floating_point and tensor.dtype not in (torch.float16, torch.float32):
        tensor = tensor.to(torch.float64)  # bfloat16, float8: no numpy equivalent
    require("numpy", "torch")
    return _profile_numpy(tensor.numpy(), bin_size, correlations, top_k)


# --- pandas ---------------------------------------------------------------------------------


def _pandas_numeric_values(np: Any, series: Any) -> tuple[Any, int]:
    """A numpy view (or copy) of a numeric series' values, and how many nulls were dropped."""
    if isinstance(series.dtype, np.dtype):
        return series.to_numpy(), 0
    valid = series.dropna()  # nullable, pyarrow-backed and sparse dtypes
    dtype = getattr(series.dtype, "numpy_dtype", np.float64)
    return valid.to_numpy(dtype=dtype), len(series) - len(valid)


def _length_stats(np: Any, lengths: Any, counts: Any) -> CharStats:
    """Character-length statistics from each distinct value's length and occurrences."""
    order = np.argsort(lengths, kind="stable")
    lengths, counts = lengths[order], counts[order]
    cumulative = np.cumsum(counts)
    n = int(cumulative[-1])
    middle = np.searchsorted(cumulative, [(n - 1) // 2, n // 2], side="right")
    return CharStats(
        min_length=int(lengths[0]),
        max_length=int(lengths[-1]),
        median_length=float(lengths[middle].mean()),
        mean_length=float(np.dot(lengths, counts) / n),
    )


def _pandas_other_stats(
    pd: Any, np: Any, series: Any, top_k: int
) -> tuple[int, StringStats | None]:
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
        char_stats = _length_stats(np, lengths, counts.to_numpy())
    top = counts.head(top_k)
    return n_null, StringStats(
        distinct=_distinct(len(counts), n),
        char_stats=char_stats,
        word_stats=_words(zip(top.index.tolist(), top.tolist(), strict=True), n),
    )


def _profile_pandas(data: Any, bin_size: int, correlations: bool, top_k: int) -> DataProfile:
    pd = sys.modules["pandas"]
    np = require("numpy", "pandas")
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
            values, n_null = _pandas_numeric_values(np, series)
            nan_count, numeric_stats = _sorted_numeric_stats(np, values, bin_size)
            n_null += nan_count
        else:
            n_null, string_stats = _pandas_other_stats(pd, np, series, top_k)
        return FeatureProfile(
            id=str(data.columns[position]),
            dtype=str(series.dtype),
            count=len(series) - n_null,
            null_count=n_null,
            numeric_stats=numeric_stats,
            string_stats=string_stats,
        )

    features = {f.id: f for f in _map_columns(one, list(range(data.shape[1])))}
    if correlations:
        columns = {
            str(data.columns[i]): data.iloc[:, i].to_numpy(dtype=np.float64, na_value=np.nan)
            for i in numeric
        }
        _add_correlations(features, _numpy_correlations(np, columns))
    return DataProfile(features=features)


# --- polars ---------------------------------------------------------------------------------


def _polars_is_numeric(pl: Any, dtype: Any) -> bool:
    return bool(dtype.is_numeric()) and dtype != pl.Boolean


def _profile_polars(data: Any, bin_size: int, correlations: bool, top_k: int) -> DataProfile:
    pl = sys.modules["polars"]
    schema = data.schema
    numeric = [c for c, t in schema.items() if _polars_is_numeric(pl, t)]
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
            edges[c] = _edges(stats[f"{c}\x00fmin"], stats[f"{c}\x00fmax"], bin_size)
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
            histogram = Histogram()
            if c in edges:
                counts = [n_below[f"{c}\x00{i}"] for i in range(bin_size - 1)]
                histogram = _histogram(edges[c], counts, stats[f"{c}\x00finite"])
            numeric_stats = NumericStats(
                mean=_float(stats[f"{c}\x00mean"]),
                stddev=_float(stats[f"{c}\x00std"]) if count > 1 else 0.0,
                min=_float(stats[f"{c}\x00min"]),
                max=_float(stats[f"{c}\x00max"]),
                distinct=_distinct(n_unique, count),
                quantiles=Quantiles(
                    **{
                        name: _float(stats[f"{c}\x00q{i}"])
                        for i, name in enumerate(("q25", "q50", "q75", "q99"))
                    }
                ),
                histogram=histogram,
            )
        elif c not in numeric and count:
            string_stats = _polars_other_stats(pl, data, c, count, top_k)
        features[c] = FeatureProfile(
            id=c,
            dtype=str(schema[c]),
            count=count,
            null_count=nulls[c],
            numeric_stats=numeric_stats,
            string_stats=string_stats,
        )
    if correlations and len(numeric) > 1:
        pairs = [(a, b) for i, a in enumerate(numeric) for b in numeric[i + 1 :]]
        values = data.select(
            pl.corr(valid(a), valid(b)).alias(f"{a}\x00{b}") for a, b in pairs
        ).row(0, named=True)
        _add_correlations(features, {(a, b): _float(values[f"{a}\x00{b}"]) for a, b in pairs})
    return DataProfile(features=features)


def _polars_other_stats(pl: Any, data: Any, c: str, count: int, top_k: int) -> StringStats | None:
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
        distinct=_distinct(counts.height, count),
        char_stats=char_stats,
        word_stats=_words(top.iter_rows(), count),
    )


# --- pyarrow --------------------------------------------------------------------------------


def _arrow_numeric_stats(
    pa: Any, pc: Any, column: Any, bin_size: int
) -> tuple[int, NumericStats | None]:
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
    quantiles = pc.quantile(valid, q=list(QUANTILES), interpolation="linear").to_pylist()
    histogram = Histogram()
    if len(finite):
        bounds = pc.min_max(finite)
        edges = _edges(float(bounds["min"].as_py()), float(bounds["max"].as_py()), bin_size)
        below = [pc.sum(pc.less(finite, edge)).as_py() or 0 for edge in edges[1:-1]]
        histogram = _histogram(edges, below, len(finite))
    stats = NumericStats(
        mean=_float(pc.mean(valid).as_py()),
        stddev=_float(pc.stddev(valid, ddof=1).as_py()) if n > 1 else 0.0,
        min=_float(extremes["min"].as_py()),
        max=_float(extremes["max"].as_py()),
        distinct=_distinct(len(pc.unique(valid)), n),
        quantiles=Quantiles(**dict(zip(("q25", "q50", "q75", "q99"), quantiles, strict=True))),
        histogram=histogram,
    )
    return n_null, stats


def _arrow_other_stats(pa: Any, pc: Any, column: Any, top_k: int) -> StringStats | None:
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
        distinct=_distinct(len(counts), n),
        char_stats=char_stats,
        word_stats=_words(((item["values"], item["counts"]) for item in top), n),
    )


def _profile_arrow(data: Any, bin_size: int, correlations: bool, top_k: int) -> DataProfile:
    pa = sys.modules["pyarrow"]
    pc = require("pyarrow.compute", "arrow")
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
            n_null, numeric_stats = _arrow_numeric_stats(pa, pc, column, bin_size)
        else:
            n_null = column.null_count
            string_stats = _arrow_other_stats(pa, pc, column, top_k)
        return FeatureProfile(
            id=name,
            dtype=str(column.type),
            count=len(column) - n_null,
            null_count=n_null,
            numeric_stats=numeric_stats,
            string_stats=string_stats,
        )

    features = {f.id: f for f in _map_columns(one, list(data.column_names))}
    if correlations:
        np = require("numpy", "numpy")
        columns = {name: data[name].to_numpy().astype(np.float64) for name in numeric}
        _add_correlations(features, _numpy_correlations(np, columns))
    return DataProfile(features=features)


_PROFILERS: tuple[tuple[str, str, Callable[[Any, int, bool, int], DataProfile]], ...] = (
    ("pandas", "DataFrame", _profile_pandas),
    ("polars", "DataFrame", _profile_polars),
    ("pyarrow", "Table", _profile_arrow),
    ("numpy", "ndarray", _profile_numpy),
    ("torch", "Tensor", _profile_torch),
)
