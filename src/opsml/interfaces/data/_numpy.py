"""numpy: ``NumpyData`` (an array saved as ``data.npy``, never with pickles), the
``NumpyCollection`` of a model's sample data, and ``NumpyLibrary``: how arrays are split,
profiled and described.

The numpy profiling kernel here also profiles pandas columns, torch tensors and pyarrow
correlations: one sorted copy of a column gives its distinct count, quantiles and histogram.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, ClassVar

from opsml._compat import require
from opsml.errors import InvalidArgumentError, SerializationError, UnsupportedTypeError
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
    distinct,
    histogram,
    histogram_edges,
    map_columns,
    quantiles,
    top_values,
)
from opsml.interfaces._schema import FeatureSchema, array_feature
from opsml.types import Suffix

__all__ = [
    "NumpyCollection",
    "NumpyData",
    "NumpyLibrary",
    "correlations",
    "length_stats",
    "load_npz",
    "numeric_column_stats",
    "profile_array",
    "rebuild_collection",
    "save_npz",
]

_EXTRA = "numpy"
_SCHEMA_KEY = "numpy_array"
_CHUNK = 1 << 16  # rows per chunk when summing squares: small temporaries, cache friendly


def _reject_allow_pickle(kwargs: dict[str, Any]) -> None:
    if "allow_pickle" in kwargs:
        raise InvalidArgumentError(
            "NumpyData always saves and loads with allow_pickle=False; remove 'allow_pickle'"
        )


class NumpyData(DataInterface):
    """A numpy ``ndarray``, saved as ``data.npy`` with ``np.save`` / ``np.load``.

    Pickles are never written or read (``allow_pickle=False`` always), so arrays of Python
    objects are rejected when the interface is built; convert them to a fixed dtype first.
    ``DataSaveKwargs(data=...)`` goes to ``np.save`` and ``DataLoadKwargs(data=...)`` to
    ``np.load`` (e.g. ``{"mmap_mode": "r"}``).

    Args:
        data: A ``numpy.ndarray`` without Python objects.
        data_splits: How to split the data.
        dependent_vars: The dependent (target) variables.
        sql_logic: The SQL that produced the data.
        data_profile: A precomputed data profile.

    Raises:
        UnsupportedTypeError: ``data`` is not an ``ndarray`` or holds Python objects.
        InvalidArgumentError: A split does not fit it.
    """

    data_type: ClassVar[DataType] = DataType.Numpy
    verify_before_read: ClassVar[bool] = False
    _suffix: ClassVar[Suffix | None] = Suffix.Numpy

    @staticmethod
    def _accepts(data: Any) -> bool:
        return NumpyLibrary.accepts(data)

    def _validate_data(self, data: Any) -> None:
        if not self._accepts(data):
            raise UnsupportedTypeError(f"NumpyData expects a numpy ndarray, got {type_name(data)}")
        if data.dtype.hasobject:
            raise UnsupportedTypeError(
                f"NumpyData cannot hold an array of dtype {data.dtype} (Python objects): it "
                "would need pickles, which opsml never loads; convert it to a fixed dtype "
                "(e.g. arr.astype(str) or arr.astype(float)) or use PandasData"
            )

    def _write(self, data: Any, file: Path, kwargs: dict[str, Any]) -> None:
        np = require("numpy", _EXTRA)
        _reject_allow_pickle(kwargs)
        with translate_errors("write", file):
            np.save(file, data, allow_pickle=False, **kwargs)

    def _read(self, file: Path, kwargs: dict[str, Any]) -> Any:
        np = require("numpy", _EXTRA)
        _reject_allow_pickle(kwargs)
        with translate_errors("read", file):
            return np.load(file, allow_pickle=False, **kwargs)

    def _extra_metadata(self) -> dict[str, Any]:
        return {"numpy_version": require("numpy", _EXTRA).__version__}


_LAYOUT_KEY = "__layout__"


def save_npz(file: Path, layout: list[str], arrays: list[Any], kwargs: dict[str, Any]) -> None:
    """Write ``arrays`` and a ``layout`` (strings saying how to rebuild them) to a ``.npz``.

    Args:
        file: The ``.npz`` file.
        layout: What the reader needs to rebuild the object (container kind, keys...).
        arrays: The numpy arrays, in order.
        kwargs: ``DataSaveKwargs.data``, passed to ``np.savez`` (no ``allow_pickle``).

    Raises:
        SerializationError: Writing failed.
    """
    np = require("numpy", _EXTRA)
    _reject_allow_pickle(kwargs)
    named = {f"a{i}": array for i, array in enumerate(arrays)}
    with translate_errors("write", file):
        np.savez(file, **{_LAYOUT_KEY: np.array(layout, dtype=str)}, **named, **kwargs)


def load_npz(file: Path, kwargs: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """Read back what :func:`save_npz` wrote, never unpickling.

    Returns:
        The layout and the arrays, in order.

    Raises:
        SerializationError: The file cannot be read or was not written by :func:`save_npz`.
    """
    np = require("numpy", _EXTRA)
    _reject_allow_pickle(kwargs)
    with translate_errors("read", file), np.load(file, allow_pickle=False, **kwargs) as npz:
        if _LAYOUT_KEY not in npz.files:
            raise SerializationError(f"{file} was not written by opsml (no layout)")
        layout = [str(item) for item in npz[_LAYOUT_KEY]]
        return layout, [npz[f"a{i}"] for i in range(len(npz.files) - 1)]


_KINDS: dict[str, type] = {"list": list, "tuple": tuple, "dict": dict}
_COLLECTION_TYPES: dict[str, DataType] = {
    "list": DataType.List,
    "tuple": DataType.Tuple,
    "dict": DataType.Dict,
}


def _kind(data: Any) -> str:
    return "dict" if isinstance(data, dict) else "tuple" if isinstance(data, tuple) else "list"


def rebuild_collection(file: Path, kind: str, keys: list[str], values: list[Any]) -> Any:
    """The list, tuple or dict (of ``keys``) of ``values`` that ``kind`` names."""
    if kind not in _KINDS:
        raise SerializationError(f"{file} does not hold a collection of arrays")
    if kind == "dict":
        return dict(zip(keys, values, strict=True))
    return _KINDS[kind](values)


class NumpyCollection(DataInterface):
    """A list, tuple or dict of numpy arrays: the sample data of a model with several inputs.

    Saved as ``<name>.npz`` with ``np.savez`` and read back with ``allow_pickle=False``:
    one array per item, plus the layout (the kind of container and the dict keys), so
    ``load`` rebuilds the same kind of container. Not a public data interface: model
    interfaces pick it for such sample data, and ``ModelInterface.sample_data`` hands out
    the container itself.

    Args:
        data: A non-empty list, tuple or dict (string keys) of ``numpy.ndarray`` without
            Python objects.

    Raises:
        UnsupportedTypeError: ``data`` is not such a container.
    """

    verify_before_read: ClassVar[bool] = False
    _suffix: ClassVar[Suffix | None] = Suffix.Npz
    _sample_as_raw: ClassVar[bool] = True

    def __init__(self, data: Any = None) -> None:
        super().__init__(data=data)

    @staticmethod
    def _accepts(data: Any) -> bool:
        np = sys.modules.get("numpy")  # not imported: data cannot hold arrays
        if np is None or not isinstance(data, list | tuple | dict) or not data:
            return False
        if isinstance(data, dict) and not all(isinstance(key, str) for key in data):
            return False
        values = data.values() if isinstance(data, dict) else data
        return all(isinstance(v, np.ndarray) and not v.dtype.hasobject for v in values)

    def _validate_data(self, data: Any) -> None:
        if not self._accepts(data):
            raise UnsupportedTypeError(
                "a collection of sample data must be a non-empty list, tuple or dict (string "
                f"keys) of numpy arrays without Python objects, got {type_name(data)}"
            )

    @classmethod
    def _first_rows(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value[0:1] for key, value in data.items()}
        return type(data)(value[0:1] for value in data)

    @property
    def data_type(self) -> DataType:  # type: ignore[override]
        """``List``, ``Tuple`` or ``Dict``, after the container (``Base`` without data)."""
        return DataType.Base if self._data is None else _COLLECTION_TYPES[_kind(self._data)]

    def _generate_schema(self) -> FeatureSchema:
        """One feature per array: the dict keys, or ``input_<i>``."""
        data = self._data
        if data is None:
            return FeatureSchema()
        if isinstance(data, dict):
            named = {str(key): value for key, value in data.items()}
        else:
            named = {f"input_{i}": value for i, value in enumerate(data)}
        return FeatureSchema({name: array_feature(value) for name, value in named.items()})

    def _write(self, data: Any, file: Path, kwargs: dict[str, Any]) -> None:
        keys = list(data) if isinstance(data, dict) else []
        values = list(data.values()) if isinstance(data, dict) else list(data)
        save_npz(file, [_kind(data), *keys], values, kwargs)

    def _read(self, file: Path, kwargs: dict[str, Any]) -> Any:
        (kind, *keys), values = load_npz(file, kwargs)
        return rebuild_collection(file, kind, keys, values)

    def _extra_metadata(self) -> dict[str, Any]:
        return {"numpy_version": require("numpy", _EXTRA).__version__}


class NumpyLibrary(DataLibrary):
    """numpy arrays: rows are the first dimension, columns (of a 2-D array) only numbered."""

    name = "numpy"
    kind = "a numpy array"
    interface = NumpyData

    @staticmethod
    def accepts(data: Any) -> bool:
        np = sys.modules.get("numpy")  # not imported: data cannot be an ndarray
        return np is not None and isinstance(data, np.ndarray)

    def feature_schema(self, data: Any) -> FeatureSchema | None:
        """One feature ``numpy_array`` for an array; one per key for a dict of arrays."""
        np = sys.modules.get("numpy")
        if np is None:
            return None
        if isinstance(data, np.ndarray):
            return FeatureSchema({_SCHEMA_KEY: array_feature(data)})
        if (
            isinstance(data, dict)
            and data
            and all(isinstance(v, np.ndarray) for v in data.values())
        ):
            return FeatureSchema({str(key): array_feature(value) for key, value in data.items()})
        return None

    def profile(self, data: Any, options: ProfileOptions) -> DataProfile:
        """Each column of a 2-D array is a feature ``feature_<i>`` (more dimensions are
        flattened per row)."""
        return profile_array(data, options)

    def n_rows(self, data: Any) -> int:
        return int(data.shape[0]) if data.ndim else 0

    def n_columns(self, data: Any) -> int | None:
        return None if data.ndim != 2 else int(data.shape[1])

    def rows(self, data: Any, start: int, stop: int) -> Any:
        return data[start:stop]

    def take(self, data: Any, indices: list[int]) -> Any:
        return data[sys.modules["numpy"].asarray(indices, dtype=int)]

    def split_columns(self, rows: Any, positions: list[int]) -> tuple[Any, Any]:
        return sys.modules["numpy"].delete(rows, positions, axis=1), rows[:, positions]


# --- the profiling kernel (numpy, pandas, torch) --------------------------------------------


def numeric_column_stats(np: Any, values: Any, bin_size: int) -> tuple[int, NumericStats | None]:
    """Null count (NaN) and stats of a 1-D int/float array, from one sorted copy of its values.

    Args:
        np: The numpy module.
        values: The column.
        bin_size: Number of histogram bins.

    Returns:
        The number of NaN, and the stats (``None`` without a value).
    """
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
        at = np.where(fraction == 0, below_q, below_q + (above_q - below_q) * fraction)
        n_distinct = int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1
        counts = Histogram()
        if ordered.dtype.kind == "f":
            first = int(np.searchsorted(ordered, -np.inf, side="right"))
            finite = ordered[first : int(np.searchsorted(ordered, np.inf, side="left"))]
        else:
            finite = ordered
        if finite.size:
            edges = histogram_edges(float(finite[0]), float(finite[-1]), bin_size)
            below = np.searchsorted(finite, np.asarray(edges[1:-1]), side="left")
            counts = histogram(edges, below.tolist(), int(finite.size))
        stats = NumericStats(
            mean=mean,
            stddev=math.sqrt(squares / (n - 1)) if n > 1 else 0.0,
            min=float(ordered[0]),
            max=float(ordered[-1]),
            distinct=distinct(n_distinct, n),
            quantiles=quantiles(at.tolist()),
            histogram=counts,
        )
        return n_null, stats


def correlations(np: Any, columns: dict[str, Any]) -> dict[tuple[str, str], float]:
    """Pearson correlation of every two columns, over the rows where both are finite."""
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


def length_stats(np: Any, lengths: Any, counts: Any) -> CharStats:
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


def _other_stats(np: Any, values: Any, top_k: int) -> tuple[int, StringStats | None]:
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
        char_stats = length_stats(np, np.char.str_len(uniques), counts)
    top = [(uniques[i], int(counts[i])) for i in order]
    return n_null, StringStats(
        distinct=distinct(int(uniques.size), n),
        char_stats=char_stats,
        word_stats=top_values(top, n),
    )


def _profile_columns(np: Any, columns: dict[str, Any], options: ProfileOptions) -> DataProfile:
    """Profile named 1-D numpy arrays (numeric ones through the sorted kernel)."""

    def one(item: tuple[str, Any]) -> FeatureProfile:
        name, values = item
        if values.dtype.kind in "iuf":
            n_null, numeric = numeric_column_stats(np, values, options.bin_size)
            string = None
        else:
            numeric = None
            n_null, string = _other_stats(np, values, options.top_k)
        return FeatureProfile(
            id=name,
            dtype=str(values.dtype),
            count=int(values.size) - n_null,
            null_count=n_null,
            numeric_stats=numeric,
            string_stats=string,
        )

    features = {f.id: f for f in map_columns(one, list(columns.items()))}
    if options.correlations:
        numeric = {k: v for k, v in columns.items() if v.dtype.kind in "iuf"}
        add_correlations(features, correlations(np, numeric))
    return DataProfile(features=features)


def profile_array(data: Any, options: ProfileOptions) -> DataProfile:
    """Profile a numpy array: each column (of the array flattened per row) is ``feature_<i>``.

    Raises:
        InvalidArgumentError: The array is 0-dimensional.
    """
    np = sys.modules["numpy"]
    if data.ndim == 0:
        raise InvalidArgumentError("cannot profile a 0-dimensional array")
    matrix = data.reshape(data.shape[0], -1) if data.ndim != 1 else data[:, None]
    columns = {f"feature_{i}": matrix[:, i] for i in range(matrix.shape[1])}
    return _profile_columns(np, columns, options)
