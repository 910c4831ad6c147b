"""SPC drift profiles of numeric data, computed with numpy.

An SPC profile holds, per feature, a center line and control limits one, two and three
sigma either side of it. scouter-ml 0.10.0 computes them as follows (the NIST recipe): the
rows are cut into consecutive samples of a size that depends on the row count (25 under
1 000 rows, 100 under 10 000, 1 000 under 100 000, 10 000 under 1 000 000, else 100 000; the
last sample takes the rows left over); each sample's mean and standard deviation
(``ddof=1``) are taken per feature; the center is the mean of the sample means, sigma the
mean of the sample standard deviations divided by ``c4 = (4n - 4) / (4n - 3)`` (``n`` the
sample size, computed in 32-bit floats), and the limits are ``center ± k * sigma``. It works
in float64 for float64 data and in float32 for float32 and integer data (cast to float32),
as :mod:`opsml.interfaces._numeric` describes.

This module computes the same statistics with numpy, one row block of at most 256 KiB (as
float64) at a time, so that no temporary grows with the data: per block, the column sums and
the sums of squared deviations from the block's mean as matrix-vector products (BLAS), a
block holding whole samples where they fit, and the blocks of a larger sample merged by the
parallel-axis theorem. One thread does it all: a block's numpy calls take microseconds, too
short for threads to gain from numpy releasing the GIL (measured: two threads were slower
than one, and each costs memory). The per-sample means and standard deviations are computed
in float64 and rounded to the working precision; from there on it is scouter's arithmetic
in scouter's precision and order: the means over samples summed in sample order, ``c4`` in
float32, sigma, the limits.

The numbers agree with scouter's to within ``n * u`` of each feature's scale (the larger of
``|center|`` and sigma), ``n`` the sample size and ``u`` the unit roundoff of the working
precision (``2**-53`` for float64, ``2**-24`` for float32): that is the rounding error of
scouter's row-by-row sums, which opsml's float64 sums do not have. In practice that is
about ``1e-15`` for float64 data and ``1e-6`` for float32 data near zero; but float32 and
integer values far from zero, summed 100 000 at a time in float32, make scouter's center
wrong by several sigma (values around 10 000 with sigma 1), where opsml's is the exact one.
Tests compare both with scouter and with exactly rounded sums.

One difference is deliberate: the standard deviation of a one-row last sample (1 001 rows,
say) is undefined, and scouter's NaN makes every limit NaN. opsml leaves that sample out of
the mean of the standard deviations (its mean still counts for the center). A single row has
no standard deviation at all and is refused.

The profile is written as scouter writes it (config, ``features_to_monitor`` all features
unless the config names some, scouter's version) and read through scouter's JSON parser.
opsml does not ask scouter to profile even the first rows: its first profile in a process
costs about 1.3 MB of memory (its thread pool), more than all of this module's work.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from opsml._compat import require
from opsml.errors import InvalidArgumentError
from opsml.interfaces._numeric import NumericColumns

__all__ = [
    "SPC_LIMITS",
    "infinite_values_error",
    "numeric_spc_profile",
    "sample_size",
    "spc_statistics",
]

SPC_LIMITS = ("center", "one_ucl", "one_lcl", "two_ucl", "two_lcl", "three_ucl", "three_lcl")
"""The numbers of one feature of an SPC profile."""

_SAMPLE_SIZES = ((1_000, 25), (10_000, 100), (100_000, 1_000), (1_000_000, 10_000))
_LARGEST_SAMPLE = 100_000
_BLOCK_BYTES = 1 << 18
"""The float64 size of a row block, the largest temporary."""
_RUN = 256
"""Values per run of consecutive rows that a block's means are subtracted from at once."""


def sample_size(rows: int) -> int:
    """scouter's SPC sample size for ``rows`` rows."""
    for bound, size in _SAMPLE_SIZES:
        if rows < bound:
            return size
    return _LARGEST_SAMPLE


def infinite_values_error(features: list[str]) -> InvalidArgumentError:
    """The error for SPC statistics that infinite values made infinite or NaN."""
    return InvalidArgumentError(
        "a drift profile cannot be made from infinite values: the SPC statistics of "
        f"{', '.join(features[:10])} are not finite; drop or clip them first"
    )


class _Piece:
    """Columns of the data as one 2-dimensional array (rows x width), read in row blocks of
    at most ``_BLOCK_BYTES`` as float64. :meth:`fill` sets ``means`` and ``squares``
    (samples x width; squares: the sum of squared deviations from the sample's mean). ``np``
    is numpy, looked up once: the methods run once per block."""

    def __init__(self, np: Any, array: Any, size: int, float64: bool) -> None:
        rows, width = array.shape
        self.np, self.array, self.size, self.float64 = np, array, size, float64
        # Means are subtracted from runs of rows seen as one long row: numpy's inner loop
        # then spans many values rather than one row's (about twice as fast). A block is a
        # multiple of a run, as the samples are.
        self.run = max(1, _RUN // width) if array.flags.c_contiguous else 1
        self.step = max(16, _BLOCK_BYTES // (8 * width) // self.run * self.run)
        self.convert = array.dtype != np.float64 or array.itemsize not in array.strides
        self.means = np.empty((-(-rows // size), width))
        self.squares = np.empty_like(self.means)
        self.ones = np.ones(min(size, self.step, rows))

    def fill(self) -> None:
        """Compute every sample's mean and sum of squares."""
        rows, size = self.array.shape[0], self.size
        whole, per_block = rows // size, self.step // size
        if not per_block:  # a sample spans blocks
            for sample in range(len(self.means)):
                self._merge(sample)
            return
        for first in range(0, whole, per_block):
            stop = min(first + per_block, whole)
            moments = self._moments(first * size, stop * size, size)
            self.means[first:stop], self.squares[first:stop] = moments
        if whole < len(self.means):  # the partial last sample
            self.means[whole:], self.squares[whole:] = self._moments(
                whole * size, rows, rows % size
            )

    def _moments(self, start: int, stop: int, group: int) -> tuple[Any, Any]:
        """The means and sums of squares (groups x width) of each ``group`` rows of rows
        ``start`` to ``stop - 1`` (a multiple of ``group``, at most a block)."""
        np, rows = self.np, self.array[start:stop]
        if self.convert:  # to float64 (integers through float32 where scouter casts them)
            if rows.dtype.kind != "f" and not self.float64:
                rows = rows.astype(np.float32)
            rows = np.array(rows, dtype=np.float64, order="K")
        width = rows.shape[1]
        rows = rows.reshape(-1, group, width)
        ones = self.ones[:group]
        means = ones @ rows
        means /= group
        run = math.gcd(group, self.run)
        deviations = rows.reshape(len(means), -1, run * width) - np.tile(means, run)[:, None, :]
        deviations *= deviations
        return means, ones @ deviations.reshape(rows.shape)

    def _merge(self, sample: int) -> None:
        """One sample's mean and sum of squares, block by block: the blocks' merged by the
        parallel-axis theorem (each block's sum of squares about its own mean, plus its rows
        times the square of its mean's distance to the sample's)."""
        np = self.np
        start = sample * self.size
        end = min(start + self.size, self.array.shape[0])
        begins = range(start, end, self.step)
        means = np.empty((len(begins), self.array.shape[1]))
        squares = np.empty_like(means)
        for index, begin in enumerate(begins):
            stop = min(begin + self.step, end)
            (means[index],), (squares[index],) = self._moments(begin, stop, stop - begin)
        counts = np.minimum(self.step, end - np.asarray(begins, dtype=np.float64))
        mean = counts @ means / (end - start)
        offsets = means - mean
        offsets *= offsets
        self.means[sample] = mean
        self.squares[sample] = squares.sum(axis=0) + counts @ offsets


def _pieces(np: Any, data: NumericColumns, size: int) -> list[_Piece]:
    """The data as 2-dimensional arrays: one array where it is one, else column by column."""
    arrays = [data.array] if data.array is not None else [c[:, None] for c in data.columns]
    return [_Piece(np, array, size, data.float64) for array in arrays]


def _c4(size: int) -> Any:
    """scouter's bias correction ``c4 = (4n - 4) / (4n - 3)``, in float32."""
    np = require("numpy", "monitoring")
    four, n = np.float32(4), np.float32(size)
    return (four * n - four) / (four * n - np.float32(3))


def spc_statistics(data: NumericColumns) -> dict[str, dict[str, float]]:
    """scouter's SPC center and limits of each feature of ``data`` (at least two rows), by
    feature name: NaN or infinite where the data holds NaN or infinite values."""
    np = require("numpy", "monitoring")
    size = sample_size(data.rows)
    pieces = _pieces(np, data, size)
    with np.errstate(invalid="ignore", over="ignore"):  # infinite values: checked later
        for piece in pieces:
            piece.fill()
    counts = np.minimum(size, data.rows - size * np.arange(len(pieces[0].means)))
    means = np.hstack([piece.means for piece in pieces])
    squares = np.hstack([piece.squares for piece in pieces])[counts > 1]  # one row: no std
    deviations = np.sqrt(squares / (counts[counts > 1] - 1)[:, None])
    working = np.float64 if data.float64 else np.float32
    # from here on scouter's arithmetic, in its precision and order (sums in sample order)
    center = np.add.accumulate(means.astype(working), axis=0)[-1] / working(len(means))
    spread = np.add.accumulate(deviations.astype(working), axis=0)[-1]
    sigma = spread / working(len(deviations)) / working(_c4(size))
    limits = {"center": center}
    for k, zone in enumerate(("one", "two", "three"), start=1):
        limits[f"{zone}_ucl"] = center + sigma * working(k)
        limits[f"{zone}_lcl"] = center - sigma * working(k)
    return {
        name: {limit: float(limits[limit][index]) for limit in SPC_LIMITS}
        for index, name in enumerate(data.names)
    }


def _holds_nan(column: Any) -> bool:
    np = require("numpy", "monitoring")
    return bool(column.dtype.kind == "f" and np.isnan(column.min()))


def _scouter_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scouter-ml")
    except PackageNotFoundError:  # scouter imported from a source tree
        return "unknown"


def numeric_spc_profile(
    data: NumericColumns,
    config: Any,
    profile_class: Any,
    on_missing: Callable[[list[str]], Exception],
) -> Any:
    """An SPC profile of ``data`` with ``config`` (an ``SpcDriftConfig``), as scouter makes
    it: every numeric feature's center and limits, ``features_to_monitor`` all features
    unless the config names some, read through scouter's JSON parser
    (``profile_class.model_validate_json``).

    Raises:
        InvalidArgumentError: Fewer than two rows, infinite values, or a feature to monitor
            that the data lacks.
        Exception: ``on_missing(names)`` for the columns that hold NaN values.
    """
    if data.rows < 2:
        raise InvalidArgumentError("an SPC drift profile needs two rows or more")
    settings = json.loads(config.model_dump_json())
    alerts = settings["alert_config"]
    unknown = [name for name in alerts["features_to_monitor"] if name not in data.names]
    if unknown:
        raise InvalidArgumentError(
            f"features_to_monitor names {', '.join(unknown[:10])}, not in the data"
        )
    alerts["features_to_monitor"] = alerts["features_to_monitor"] or list(data.names)
    features = spc_statistics(data)
    broken = [
        index
        for index, name in enumerate(data.names)
        if not all(math.isfinite(value) for value in features[name].values())
    ]
    if broken:
        missing = [data.names[index] for index in broken if _holds_nan(data.columns[index])]
        if missing:
            raise on_missing(missing)
        raise infinite_values_error([data.names[index] for index in broken])
    now = datetime.now(UTC).isoformat()
    profile = {
        "features": {
            name: {"id": name, **numbers, "timestamp": now} for name, numbers in features.items()
        },
        "config": settings,
        "scouter_version": _scouter_version(),
    }
    return profile_class.model_validate_json(json.dumps(profile))
