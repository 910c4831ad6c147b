"""torch: ``TorchData`` (a tensor saved as ``data.pt``, loaded with ``weights_only=True``
only) and ``TorchLibrary``: how tensors are split, profiled (as their numpy array) and
described."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

from opsml._compat import require
from opsml.errors import InvalidArgumentError, UnsupportedTypeError
from opsml.interfaces._data_base import DataInterface, translate_errors, type_name
from opsml.interfaces._enums import DataType
from opsml.interfaces._library import DataLibrary, ProfileOptions
from opsml.interfaces._profile import DataProfile
from opsml.interfaces._schema import FeatureSchema, array_feature
from opsml.interfaces.data._numpy import profile_array
from opsml.types import Suffix

__all__ = ["TorchData", "TorchLibrary"]

_EXTRA = "torch"
_SCHEMA_KEY = "torch_tensor"
_UNSAFE_LOAD_KWARGS = ("weights_only", "pickle_module")


class TorchData(DataInterface):
    """A ``torch.Tensor``, saved as ``data.pt`` with ``torch.save``.

    The file is always read with ``torch.load(..., weights_only=True)``: torch's restricted
    unpickler, which rebuilds tensors and plain containers and never runs arbitrary code.
    ``DataSaveKwargs(data=...)`` goes to ``torch.save`` (e.g. ``{"pickle_protocol": 4}``)
    and ``DataLoadKwargs(data=...)`` to ``torch.load`` (e.g. ``{"map_location": "cpu"}``,
    ``{"mmap": True}``); ``weights_only`` and ``pickle_module`` cannot be overridden.

    Args:
        data: A ``torch.Tensor`` (any dtype, shape and layout torch can save).
        data_splits: How to split the data (rows are the first dimension).
        dependent_vars: The dependent (target) columns of a 2-D tensor, by position.
        sql_logic: The SQL that produced the data.
        data_profile: A precomputed data profile.

    Raises:
        UnsupportedTypeError: ``data`` is not a tensor.
        InvalidArgumentError: A split does not fit it.
    """

    data_type: ClassVar[DataType] = DataType.TorchTensor
    _suffix: ClassVar[Suffix | None] = Suffix.Pt

    @staticmethod
    def _accepts(data: Any) -> bool:
        return TorchLibrary.accepts(data)

    def _validate_data(self, data: Any) -> None:
        if not self._accepts(data):
            raise UnsupportedTypeError(f"TorchData expects a torch Tensor, got {type_name(data)}")

    def _write(self, data: Any, file: Path, kwargs: dict[str, Any]) -> None:
        torch = require("torch", _EXTRA)
        with translate_errors("write", file):
            torch.save(data, file, **kwargs)

    def _read(self, file: Path, kwargs: dict[str, Any]) -> Any:
        torch = require("torch", _EXTRA)
        unsafe = [key for key in _UNSAFE_LOAD_KWARGS if key in kwargs]
        if unsafe:
            raise InvalidArgumentError(
                f"TorchData always loads with weights_only=True; remove {unsafe} from "
                "DataLoadKwargs"
            )
        with translate_errors("read", file):
            data = torch.load(file, weights_only=True, **kwargs)
        if not isinstance(data, torch.Tensor):
            raise InvalidArgumentError(f"{file} holds a {type_name(data)}, not a tensor")
        return data

    def _extra_metadata(self) -> dict[str, Any]:
        return {"torch_version": require("torch", _EXTRA).__version__}


class TorchLibrary(DataLibrary):
    """torch tensors: rows are the first dimension, columns (of a 2-D tensor) only numbered."""

    name = "torch"
    kind = "a torch tensor"
    interface = TorchData

    @staticmethod
    def accepts(data: Any) -> bool:
        torch = sys.modules.get("torch")  # not imported: data cannot be a tensor
        return torch is not None and isinstance(data, torch.Tensor)

    def feature_schema(self, data: Any) -> FeatureSchema | None:
        """One feature ``torch_tensor``, typed like ``"torch.float32"``, with its shape."""
        if not self.accepts(data):
            return None
        return FeatureSchema({_SCHEMA_KEY: array_feature(data)})

    def profile(self, data: Any, options: ProfileOptions) -> DataProfile:
        """Profiled like its numpy array (on the CPU, dense; bfloat16 and float8 as float64)."""
        torch = sys.modules["torch"]
        tensor = data.detach().cpu()
        if tensor.layout != torch.strided:
            tensor = tensor.to_dense()
        if tensor.dtype.is_floating_point and tensor.dtype not in (torch.float16, torch.float32):
            tensor = tensor.to(torch.float64)  # bfloat16, float8: no numpy equivalent
        require("numpy", _EXTRA)
        return profile_array(tensor.numpy(), options)

    def n_rows(self, data: Any) -> int:
        return int(data.shape[0]) if data.ndim else 0

    def n_columns(self, data: Any) -> int | None:
        return None if data.ndim != 2 else int(data.shape[1])

    def rows(self, data: Any, start: int, stop: int) -> Any:
        return data[start:stop]

    def take(self, data: Any, indices: list[int]) -> Any:
        torch = sys.modules["torch"]
        return data[torch.tensor(indices, dtype=torch.long, device=data.device)]

    def split_columns(self, rows: Any, positions: list[int]) -> tuple[Any, Any]:
        excluded = set(positions)
        keep = [i for i in range(int(rows.shape[1])) if i not in excluded]
        return rows[:, keep], rows[:, positions]
