"""NumpyData: a numpy array saved as ``data.npy``, never with pickles."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

from opsml._compat import require
from opsml.errors import InvalidArgumentError
from opsml.interfaces._data_base import DataInterface, translate_errors, type_name
from opsml.interfaces._enums import DataType
from opsml.types import Suffix

__all__ = ["NumpyData"]

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
        InvalidArgumentError: ``data`` is not an ``ndarray``, holds Python objects, or a
            split or dependent variable does not fit it.
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
            raise InvalidArgumentError(f"NumpyData expects a numpy ndarray, got {type_name(data)}")
        if data.dtype.hasobject:
            raise InvalidArgumentError(
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
