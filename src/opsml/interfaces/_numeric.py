"""Numeric frames as the per-column numpy arrays that opsml's PSI and SPC statistics read.

scouter-ml 0.10.0 profiles a frame's numeric columns as one numpy array: a numpy array as it
is, a polars frame through ``to_numpy`` (cast to float64 when integer and float columns mix).
It works in float64 when that array is float64 and in float32 otherwise (integers cast to
float32). The adapters here give the same columns without that copy (views where possible),
with the precision scouter would use, for :mod:`opsml.interfaces._psi` and
:mod:`opsml.interfaces._spc` to compute its numbers from; and, on demand, the first rows of
the data in the form scouter takes (PSI asks scouter for a profile of them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsml._compat import require

__all__ = [
    "SKELETON_ROWS",
    "NumericColumns",
    "numpy_columns",
    "pandas_columns",
    "polars_columns",
]

SKELETON_ROWS = 10
"""Rows of :attr:`NumericColumns.head` (scouter's PSI deciles need ten)."""


class NumericColumns:
    """The numeric columns of a frame as scouter would profile them.

    Attributes:
        names: Feature names, in column order.
        columns: One 1-dimensional numpy array per feature (views where possible).
        float64: Whether scouter works in float64 (else float32).
        rows: The number of rows.
        array: A 2-dimensional numpy array (a view) whose columns are ``columns``, where
            there is one; else ``None``.
    """

    __slots__ = ("_head_of", "array", "columns", "float64", "names", "rows")

    def __init__(
        self,
        names: list[str],
        columns: list[Any],
        float64: bool,
        head_of: Callable[[], Any],
        rows: int,
        array: Any = None,
    ) -> None:
        self.names = names
        self.columns = columns
        self.float64 = float64
        self._head_of = head_of
        self.rows = rows
        self.array = array

    @property
    def head(self) -> Any:
        """The first ten rows of the data, in the form scouter takes."""
        return self._head_of()


def numpy_columns(array: Any) -> NumericColumns | None:
    """The columns of a 2-dimensional numeric numpy array, or ``None`` where scouter must
    profile it (a dtype it neither reads in float64 nor casts to float32)."""
    kind, size = array.dtype.kind, array.dtype.itemsize
    if kind == "f" and size == 8:
        float64 = True
    elif (kind == "f" and size == 4) or kind == "i":  # unsigned arrays are categorical to it
        float64 = False
    else:
        return None
    width = array.shape[1]
    names = [f"feature_{index}" for index in range(width)]
    columns = [array[:, index] for index in range(width)]
    head = array[:SKELETON_ROWS]
    return NumericColumns(names, columns, float64, lambda: head, array.shape[0], array)


def _one_array(columns: list[Any]) -> Any:
    """The columns as one 2-dimensional view, when they lie in memory as the columns of one
    array do (one dtype and row stride, equally spaced starts: a pandas frame made from a
    2-dimensional array, say); else ``None``. Every element of the view is an element of
    ``columns``, which must outlive it."""
    np = require("numpy", "monitoring")
    first = columns[0]
    if len(columns) < 2 or any(
        column.dtype != first.dtype
        or column.shape != first.shape
        or column.strides != first.strides
        for column in columns
    ):
        return None
    starts = [column.__array_interface__["data"][0] for column in columns]
    step = starts[1] - starts[0]
    if step == 0 or any(start != starts[0] + i * step for i, start in enumerate(starts)):
        return None
    return np.lib.stride_tricks.as_strided(
        first,
        shape=(first.shape[0], len(columns)),
        strides=(first.strides[0], step),
        writeable=False,
    )


def _working_float64(floats: list[int], integers: bool) -> bool:
    """The precision scouter profiles a frame's numeric columns in, from the byte sizes of
    its float columns: float64 when integer and float columns mix (it casts them), else the
    frame's common float type; integers alone become float32."""
    if floats and integers:
        return True
    return bool(floats) and max(floats) == 8


def pandas_columns(frame: Any, head_of: Callable[[Any], Any]) -> NumericColumns | None:
    """The columns of a pandas frame whose columns are all numpy-backed floats and integers
    (``head_of(rows)``: rows of it as the frame scouter takes, made only when asked for), or
    ``None`` where the frame must go through polars (other dtypes, nullable extension
    types). The names are the column labels: the caller checks they are distinct strings."""
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
    columns = [frame.iloc[:, index].to_numpy() for index in range(len(dtypes))]
    return NumericColumns(
        list(frame.columns),
        columns,
        float64,
        lambda: head_of(frame.head(SKELETON_ROWS)),
        len(frame),
        _one_array(columns),
    )


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
    head = frame.head(SKELETON_ROWS)
    return NumericColumns(names, columns, float64, lambda: head, frame.height)
