"""PSI drift profiles of numeric data, binned with numpy.

scouter-ml 0.10.0 bins each numeric feature of a PSI profile at its deciles: it sorts a copy
of the column (a comparison sort over a strided view of the array) and then counts, for
each of the ten bins ``(lower, upper]``, the values inside with one pass over the column
per bin. On the 2 000 000 x 10 frame that is about 2 s. The profile is defined by those
order statistics and counts alone, so this module computes the same numbers with numpy's
vectorized sort (columns sorted in parallel threads: numpy releases the GIL while sorting)
and binary searches in the sorted column; about ten times faster, with one sorted column
per thread as the only extra memory.

Everything that is not the bins comes from scouter itself: it profiles the first ten rows
with the caller's config (feature names, ``features_to_monitor``, the config it validates),
and the full data's bins replace that skeleton's, read back through scouter's JSON parser.
The values are exactly those of scouter's own profile of the same data as it reads back
from its file (serde's float parsing may move a number by one unit in the last place, to
both alike; a test compares them): the same decile positions
(scouter computes ``floor(i * (n - 1) / 10)`` in 32-bit floats), the same working precision
(float64 data in float64; float32 and integer data in float32, as scouter casts them), and
the same bin edges, with ``-inf`` values outside every bin as in scouter. The one place the
two may differ is the sign of a zero decile (``-0.0`` and ``0.0`` sort as equal), which no
count depends on.

Data this path does not cover goes to scouter unchanged: string or categorical features, a
config with ``categorical_features``, fewer than ten rows, other dtypes.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

from opsml._compat import require
from opsml.interfaces._numeric import NumericColumns

__all__ = ["DECILE_BINS", "decile_bins", "numeric_psi_profile"]

DECILE_BINS = 10
"""Bins per numeric PSI feature (scouter's deciles)."""


def _decile_positions(rows: int) -> list[int]:
    """scouter's decile positions in the sorted column: ``floor(i * (n - 1) / 10)`` for
    i = 1..9, computed in 32-bit floats as scouter computes it."""
    np = require("numpy", "monitoring")
    span = np.float32(rows) - np.float32(1)
    return [
        int(np.floor(np.float32(i) * span / np.float32(DECILE_BINS))) for i in range(1, DECILE_BINS)
    ]


def decile_bins(column: Any, float64: bool) -> list[dict[str, Any]] | None:
    """The ten PSI bins of one numeric column, as scouter serializes them; ``None`` when the
    column holds a NaN (scouter cannot bin it).

    Bin ``k`` (1-based id) spans ``(lower, upper]`` between consecutive deciles, the first
    from ``-inf`` and the last to ``inf``; its proportion is the share of all values in it.
    """
    np = require("numpy", "monitoring")
    working = np.float64 if float64 else np.float32
    ordered = np.array(column, dtype=working, copy=True)  # contiguous, ours to sort
    ordered.sort()
    rows = ordered.shape[0]
    if np.isnan(ordered[-1]):  # NaN sorts last
        return None
    deciles = ordered[_decile_positions(rows)]
    # at_most[k]: values <= the k-th edge; the first edge is -inf, which scouter's
    # "value > lower" keeps out of every bin, and the last is +inf.
    at_most = [
        int(np.searchsorted(ordered, -np.inf, side="right")),
        *(int(i) for i in np.searchsorted(ordered, deciles, side="right")),
        rows,
    ]
    edges = [-math.inf, *(float(value) for value in deciles), math.inf]
    return [
        {
            "id": index + 1,
            "lower_limit": _limit(edges[index]),
            "upper_limit": _limit(edges[index + 1]),
            "proportion": (at_most[index + 1] - at_most[index]) / rows,
        }
        for index in range(DECILE_BINS)
    ]


def _limit(value: float) -> float | str:
    """A bin edge as scouter writes it (infinities as the strings ``inf`` / ``-inf``)."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _threads(columns: Sequence[Any]) -> int:
    return max(1, min(len(columns), os.cpu_count() or 1))


def numeric_psi_profile(
    data: NumericColumns,
    config: Any,
    skeleton_of: Callable[[Any, Any], Any],
    profile_class: Any,
    on_missing: Callable[[list[str]], Exception],
) -> Any:
    """A PSI profile of ``data``: scouter's profile of its first ten rows (``skeleton_of(head,
    config)``) with every feature's bins computed over all rows.

    Raises:
        Exception: ``on_missing(names)`` for the columns that hold NaN values.
    """
    from concurrent.futures import ThreadPoolExecutor  # not at import: it pulls in logging

    with ThreadPoolExecutor(_threads(data.columns), thread_name_prefix="opsml-psi") as pool:
        binned = list(pool.map(lambda column: decile_bins(column, data.float64), data.columns))
    missing = [name for name, bins in zip(data.names, binned, strict=True) if bins is None]
    if missing:  # before scouter sees the head: it panics on a NaN
        raise on_missing(missing)
    skeleton = json.loads(skeleton_of(data.head, config).model_dump_json())
    features = skeleton["features"]
    for name, bins in zip(data.names, binned, strict=True):
        features[name]["bins"] = bins
    return profile_class.model_validate_json(json.dumps(skeleton))
