"""NumpyData: a numpy array saved as ``data.npy``, never with pickles."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

from opsml._compat import require
from opsml.errors import InvalidArgumentError, SerializationError, UnsupportedTypeError
from opsml.interfaces._data_base import DataInterface, translate_errors, type_name
from opsml.interfaces._enums import DataType
from opsml.interfaces._schema import Feature, FeatureSchema
from opsml.types import Suffix

__all__ = ["NumpyCollection", "NumpyData", "load_npz", "rebuild_collection", "save_npz"]

_EXTRA = "numpy"


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
        np = sys.modules.get("numpy")  # not imported: data cannot be an ndarray
        return np is not None and isinstance(data, np.ndarray)

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
        return FeatureSchema(
            {
                name: Feature(feature_type=str(v.dtype), shape=[int(n) for n in v.shape])
                for name, v in named.items()
            }
        )

    def _write(self, data: Any, file: Path, kwargs: dict[str, Any]) -> None:
        keys = list(data) if isinstance(data, dict) else []
        values = list(data.values()) if isinstance(data, dict) else list(data)
        save_npz(file, [_kind(data), *keys], values, kwargs)

    def _read(self, file: Path, kwargs: dict[str, Any]) -> Any:
        (kind, *keys), values = load_npz(file, kwargs)
        return rebuild_collection(file, kind, keys, values)

    def _extra_metadata(self) -> dict[str, Any]:
        return {"numpy_version": require("numpy", _EXTRA).__version__}
