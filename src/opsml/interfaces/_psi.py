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

__all__ = [
    "DECILE_BINS",
    "NumericColumns",
    "decile_bins",
    "numeric_psi_profile",
    "numpy_columns",
    "pandas_columns",
    "polars_columns",
]

DECILE_BINS = 10
"""Bins per numeric PSI feature (scouter's deciles)."""

_SKELETON_ROWS = DECILE_BINS
"""Rows scouter profiles for the profile's skeleton (it needs ten to compute deciles)."""


class NumericColumns:
    """The numeric columns of a frame as scouter would bin them.

    Attributes:
        names: Feature names, in column order.
        columns: One 1-dimensional numpy array per feature (views where possible).
        float64: Whether scouter bins them in float64 (else float32).
        head: The first ten rows of the data, in the form scouter takes.
        rows: The number of rows.
    """

    __slots__ = ("columns", "float64", "head", "names", "rows")

    def __init__(
        self, names: list[str], columns: list[Any], float64: bool, head: Any, rows: int
    ) -> None:
        self.names = names
        self.columns = columns
        self.float64 = float64
        self.head = head
        self.rows = rows


def numpy_columns(array: Any) -> NumericColumns | None:
    """The columns of a 2-dimensional numeric numpy array, or ``None`` where scouter must
    profile it (a dtype it neither bins in float64 nor casts to float32)."""
    kind, size = array.dtype.kind, array.dtype.itemsize
    if kind == "f" and size == 8:
        float64 = True
    elif (kind == "f" and size == 4) or kind == "i":  # scouter refuses unsigned arrays
        float64 = False
    else:
        return None
    width = array.shape[1]
    names = [f"feature_{index}" for index in range(width)]
    columns = [array[:, index] for index in range(width)]
    return NumericColumns(names, columns, float64, array[:_SKELETON_ROWS], array.shape[0])


def _working_float64(floats: list[int], integers: bool) -> bool:
    """The precision scouter bins a frame's numeric columns in, from the byte sizes of its
    float columns: float64 when integer and float columns mix (it casts them), else the
    frame's common float type; integers alone become float32."""
    if floats and integers:
        return True
    return bool(floats) and max(floats) == 8


def pandas_columns(frame: Any, head_of: Callable[[Any], Any]) -> NumericColumns | None:
    """The columns of a pandas frame whose columns are all numpy-backed floats and integers
    (``head_of(rows)``: rows of it as the frame scouter takes), or ``None`` where the frame
    must go through polars (other dtypes, nullable extension types)."""
    np = require("numpy", "monitoring")
    dtypes = list(frame.dtypes)
    numeric = [
        isinstance(d, np.dtype) and (d.kind == "i" or (d.kind == "f" and d.itemsize in (4, 8)))
        for d in dtypes
    ]
    if not dtypes or not all(numeric):
        return None
    floats = [d.itemsize for d in dtypes if d.kind == "f"]
    float64 = _working_float64(floats, len(floats) < len(dtypes))
    head = head_of(frame.head(_SKELETON_ROWS))
    columns = [frame.iloc[:, index].to_numpy() for index in range(len(dtypes))]
    return NumericColumns(list(head.columns), columns, float64, head, len(frame))


def polars_columns(frame: Any) -> NumericColumns | None:
    """The columns of a polars frame whose columns are all numeric, or ``None`` where
    scouter must profile it (string, categorical, boolean or decimal columns).

    scouter converts such a frame to one numpy array (:func:`_working_float64`).
    """
    pl = require("polars", "monitoring")
    schema = frame.schema
    if not schema or not all(d.is_numeric() and not d.is_decimal() for d in schema.values()):
        return None
    floats = [8 if dtype == pl.Float64 else 4 for dtype in schema.values() if dtype.is_float()]
    float64 = _working_float64(floats, len(floats) < len(schema))
    names = list(schema)
    columns = [frame.get_column(name).to_numpy() for name in names]
    return NumericColumns(names, columns, float64, frame.head(_SKELETON_ROWS), frame.height)


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
