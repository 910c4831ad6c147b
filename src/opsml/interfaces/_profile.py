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
evaluated in a few ``select`` passes; pyarrow uses ``pyarrow.compute`` kernels. That code
lives with each library's interface (its ``DataLibrary.profile``); this module holds the
result types and the arithmetic every library shares (histogram edges, distinct shares,
correlations attached to both columns).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from opsml._validation import empty_list
from opsml.errors import InvalidArgumentError
from opsml.interfaces._enums import DataType
from opsml.interfaces._library import ProfileOptions, library_for, supported_kinds
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
    "add_correlations",
    "as_float",
    "create_data_profile",
    "distinct",
    "histogram",
    "histogram_edges",
    "map_columns",
    "quantiles",
    "top_values",
]

QUANTILES = (0.25, 0.5, 0.75, 0.99)
"""The quantiles of :class:`Quantiles`, in order."""
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

    bins: list[float] = Field(default_factory=empty_list)
    bin_counts: list[int] = Field(default_factory=empty_list)


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
    library = library_for(data)
    if library is None:
        raise InvalidArgumentError(
            f"cannot profile a {type(data).__module__}.{type(data).__qualname__}: data "
            f"profiles work on {supported_kinds()}"
        )
    return library.profile(data, ProfileOptions(bin_size, compute_correlations, top_k))


# --- what every library shares --------------------------------------------------------------


def histogram_edges(lo: float, hi: float, bins: int) -> list[float]:
    """Equal-width bin edges exactly as ``numpy.histogram`` computes them (without numpy).

    Args:
        lo: The smallest finite value.
        hi: The largest finite value.
        bins: The number of bins.

    Returns:
        ``bins + 1`` edges; a single value gets the bins of ``[lo - 0.5, lo + 0.5]``.
    """
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    step = (hi - lo) / bins
    edges = [i * step + lo for i in range(bins)]
    edges.append(hi)
    return edges


def histogram(edges: list[float], below: Sequence[int], n_finite: int) -> Histogram:
    """The histogram from the number of finite values below each inner edge.

    Args:
        edges: The edges from :func:`histogram_edges`.
        below: For each inner edge (``edges[1:-1]``), how many values are below it.
        n_finite: How many finite values there are.

    Returns:
        The histogram (numpy's rules: the last bin holds its right edge).
    """
    cumulative = [0, *below, n_finite]
    return Histogram(
        bins=edges, bin_counts=[cumulative[i + 1] - cumulative[i] for i in range(len(edges) - 1)]
    )


def quantiles(values: Sequence[float]) -> Quantiles:
    """The :class:`Quantiles` of the values computed at :data:`QUANTILES`, in order."""
    return Quantiles(**dict(zip(("q25", "q50", "q75", "q99"), values, strict=True)))


def distinct(count: int, total: int) -> Distinct:
    """``count`` values out of ``total`` non-missing ones (a share of 0 when there are none)."""
    return Distinct(count=count, percent=count / total if total else 0.0)


def top_values(top: Iterable[tuple[Any, int]], total: int) -> WordStats:
    """The most frequent values, given as ``(value, occurrences)`` most frequent first."""
    return WordStats(words={str(value): distinct(int(n), total) for value, n in top})


def as_float(value: Any) -> float:
    """A library's scalar as a float; ``None`` (no value) is NaN."""
    return math.nan if value is None else float(value)


def map_columns(fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """Apply ``fn`` to each column on a small thread pool (numpy and arrow release the GIL)."""
    workers = min(4, os.cpu_count() or 1, len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def add_correlations(
    profile: dict[str, FeatureProfile], correlations: dict[tuple[str, str], float]
) -> None:
    """Record each pair's correlation on both of its columns' profiles."""
    for (a, b), value in correlations.items():
        for this, other in ((a, b), (b, a)):
            feature = profile[this]
            feature.correlations = {**(feature.correlations or {}), other: value}
