"""TorchModel: a torch ``nn.Module`` saved as its ``state_dict`` (``model.pt``).

Also home of what every torch-based interface shares (``LightningModel``,
``HuggingFaceModel``): sample data made of tensors, saved as ``sample-data.pt`` and read
back with ``torch.load(weights_only=True)``, and the conversion to ONNX with
``torch.onnx.export``.
"""

from __future__ import annotations

import io
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from opsml._compat import require
from opsml.errors import InvalidArgumentError, SerializationError, UnsupportedTypeError
from opsml.interfaces._data_base import DataInterface, translate_errors, type_name
from opsml.interfaces._enums import DataType, ModelType, TaskType
from opsml.interfaces._kwargs import ModelSaveKwargs
from opsml.interfaces._model_base import ModelInterface, sample_data_interfaces
from opsml.interfaces._schema import Feature, FeatureSchema
from opsml.interfaces.data._torch import TorchData
from opsml.types import DriftProfileMap, SaveName, Suffix

if TYPE_CHECKING:
    import onnx

__all__ = ["TorchModel", "TorchSampleData"]

_EXTRA = "torch"
ARCHITECTURE_KEY = "model"
"""Key of ``ModelLoadKwargs.model`` naming the architecture to load weights into (OpsML 3)."""
MODEL_CLASS_KEY = "model_class"
"""Key of ``ModelInterfaceSaveMetadata.extra`` recording the saved model's class."""


def torch_module() -> Any:
    """Import torch, or raise ``MissingDependencyError`` naming the ``torch`` extra."""
    return require("torch", _EXTRA)


def class_path(cls: type) -> str:
    """Return ``module.QualName`` of a class."""
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_tensor(obj: Any) -> bool:
    torch = sys.modules.get("torch")  # not imported: obj cannot be a tensor
    return torch is not None and isinstance(obj, torch.Tensor)


def _is_leaf(obj: Any) -> bool:
    return _is_tensor(obj) or isinstance(obj, str)


def torch_data_type(data: Any) -> DataType:
    """The ``DataType`` of tensor sample data (``NotProvided`` for anything else)."""
    if _is_tensor(data):
        return DataType.TorchTensor
    if isinstance(data, str):
        return DataType.Str
    if isinstance(data, tuple):
        return DataType.Tuple
    if isinstance(data, list):
        return DataType.List
    if isinstance(data, Mapping):
        is_batch = type(data).__name__ == "BatchEncoding"
        return DataType.TransformerBatch if is_batch else DataType.Dict
    return DataType.NotProvided


def _feature(value: Any) -> Feature:
    if isinstance(value, str):
        return Feature(feature_type="str", shape=[1])
    return Feature(feature_type=str(value.dtype), shape=[int(n) for n in value.shape])


class TorchSampleData(DataInterface):
    """Sample data of the torch-based model interfaces, saved as ``sample-data.pt``.

    Holds a string, or a dict (string keys), list or tuple of tensors and strings (a lone
    tensor goes to ``TorchData``, but is accepted too); a dict-like object such as a
    ``transformers.BatchEncoding`` is saved as a plain dict. Written with ``torch.save``
    and always read back with ``torch.load(weights_only=True)``, which only rebuilds
    tensors and plain containers and never runs code from the file. Not a public data
    interface: ``TorchModel`` and friends pick it for such sample data, and their
    ``sample_data`` hands out the object itself.

    Args:
        data: The sample data.

    Raises:
        InvalidArgumentError: ``data`` is not one of the accepted shapes.
    """

    _suffix: ClassVar[Suffix | None] = Suffix.Pt
    _sample_as_raw: ClassVar[bool] = True

    def __init__(self, data: Any = None) -> None:
        super().__init__(data=data)

    @classmethod
    def _first_rows(cls, data: Any) -> Any:
        """The first row of each tensor; strings are kept whole."""

        def first(value: Any) -> Any:
            return value if isinstance(value, str) else value[0:1]

        container: Any = type(data)  # keeps a BatchEncoding a BatchEncoding
        if isinstance(data, Mapping):
            return container({key: first(value) for key, value in data.items()})
        if isinstance(data, list | tuple):
            return container(first(value) for value in data)
        return first(data)

    @staticmethod
    def _accepts(data: Any) -> bool:
        if _is_leaf(data):
            return True
        if isinstance(data, list | tuple):
            return bool(data) and all(_is_leaf(item) for item in data)
        if isinstance(data, Mapping):
            return bool(data) and all(
                isinstance(key, str) and _is_leaf(value) for key, value in data.items()
            )
        return False

    def _validate_data(self, data: Any) -> None:
        if not self._accepts(data):
            raise UnsupportedTypeError(
                "torch sample data must be a torch Tensor, a string, or a non-empty dict "
                f"(string keys), list or tuple of them, got {type_name(data)}"
            )

    @property
    def data_type(self) -> DataType:  # type: ignore[override]
        """``TorchTensor``, ``Dict``, ``List``, ``Tuple``, ``Str`` or ``TransformerBatch``."""
        return torch_data_type(self._data)

    def _generate_schema(self) -> FeatureSchema:
        """One feature per tensor: ``torch_tensor``, the dict keys, or ``input_<i>``."""
        data = self._data
        if data is None:
            return FeatureSchema()
        if _is_leaf(data):
            return FeatureSchema({"torch_tensor": _feature(data)})
        if isinstance(data, Mapping):
            return FeatureSchema({str(key): _feature(value) for key, value in data.items()})
        return FeatureSchema({f"input_{i}": _feature(value) for i, value in enumerate(data)})

    def _write(self, data: Any, file: Path, kwargs: dict[str, Any]) -> None:
        torch = torch_module()
        plain = dict(data) if isinstance(data, Mapping) else data
        with translate_errors("write", file):
            torch.save(plain, file, **kwargs)

    def _read(self, file: Path, kwargs: dict[str, Any]) -> Any:
        torch = torch_module()
        with translate_errors("read", file):
            return torch.load(file, weights_only=True, map_location="cpu", **kwargs)


def _export_inputs(sample: Any) -> tuple[tuple[Any, ...], dict[str, Any], list[str]]:
    """Split sample data into ``torch.onnx.export``'s ``args``, ``kwargs`` and input names."""
    torch = torch_module()
    np = sys.modules.get("numpy")
    if np is not None and isinstance(sample, np.ndarray):
        sample = torch.from_numpy(sample)
    if _is_tensor(sample):
        return (sample,), {}, ["input"]
    if isinstance(sample, list | tuple) and all(_is_tensor(item) for item in sample):
        return tuple(sample), {}, [f"input_{i}" for i in range(len(sample))]
    if isinstance(sample, Mapping) and all(_is_tensor(value) for value in sample.values()):
        return (), dict(sample), [str(key) for key in sample]
    raise SerializationError(
        "ONNX conversion needs tensor sample data (a Tensor, a numpy array, or a dict, list "
        f"or tuple of Tensors), got {type_name(sample)}"
    )


def _output_names(outputs: Any) -> list[str]:
    """Name the model's outputs the way the exporter flattens them."""
    if isinstance(outputs, Mapping):
        return [str(key) for key, value in outputs.items() if value is not None]
    if isinstance(outputs, list | tuple):
        return [f"output_{i}" for i in range(len(outputs))]
    return ["output"]


def export_to_onnx(
    model: Any, sample: Any, kwargs: dict[str, Any], sequence_axis: bool = False
) -> onnx.ModelProto:
    """Convert a torch module to ONNX with ``torch.onnx.export(dynamo=False)``.

    The sample data is the example input: a tensor (or numpy array) is the single input
    ``input``; a list or tuple gives ``input_0``, ``input_1``, ...; a dict is passed as
    keyword arguments named by its keys. Outputs are named ``output`` (``output_<i>`` for
    several, the keys for a dict-like output such as a transformers ``ModelOutput``). The
    first axis of every input and output is dynamic (``batch``); with ``sequence_axis``,
    so is the second axis of every 2-D input (``sequence``: token ids, masks, audio).

    Args:
        model: The ``nn.Module``.
        sample: The sample data.
        kwargs: ``ModelSaveKwargs.onnx``: overrides for ``torch.onnx.export`` (e.g.
            ``{"opset_version": 17}`` or your own ``dynamic_axes``).
        sequence_axis: Also make the second axis of 2-D inputs dynamic.

    Returns:
        The ONNX model.

    Raises:
        SerializationError: The sample data cannot drive the model, or the export failed.
        MissingDependencyError: torch or onnx is not installed.
    """
    torch = torch_module()
    onnx_lib = require("onnx", "onnx")
    args, call_kwargs, input_names = _export_inputs(sample)
    was_training = model.training
    try:
        # In eval mode, like the export itself: a training-mode call would update state
        # such as batch-norm statistics.
        with torch.no_grad():
            outputs = model.eval()(*args, **call_kwargs)
    except Exception as exc:
        raise SerializationError(
            f"cannot convert {type_name(model)} to ONNX: calling it on the sample data "
            f"failed: {exc}"
        ) from exc
    finally:
        model.train(was_training)
    output_names = _output_names(outputs)
    dynamic_axes: dict[str, dict[int, str]] = {name: {0: "batch"} for name in output_names}
    for name, value in zip(input_names, [*args, *call_kwargs.values()], strict=True):
        is_sequence = sequence_axis and value.dim() == 2
        dynamic_axes[name] = {0: "batch", 1: "sequence"} if is_sequence else {0: "batch"}
    export_kwargs: dict[str, Any] = {
        "input_names": input_names,
        "output_names": output_names,
        "dynamic_axes": dynamic_axes,
        "dynamo": False,
        **kwargs,
    }
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            # opsml deliberately uses the TorchScript exporter (dynamo=False), which needs no
            # extra packages; torch announces its deprecation on every call.
            warnings.filterwarnings(
                "ignore", message=".*legacy TorchScript-based ONNX export", category=Warning
            )
            warnings.filterwarnings(
                "ignore", message="The feature will be removed", category=DeprecationWarning
            )
            torch.onnx.export(model, args, buffer, kwargs=call_kwargs, **export_kwargs)
    except Exception as exc:
        raise SerializationError(
            f"torch.onnx.export could not convert {type_name(model)}: {exc}"
        ) from exc
    proto: onnx.ModelProto = onnx_lib.load_from_string(buffer.getvalue())
    return proto


class TorchInterface(ModelInterface):
    """Base of the torch-based model interfaces: tensor sample data and ONNX export.

    A tensor is saved with ``TorchData``; a string or a dict, list or tuple of tensors
    (and strings) with ``TorchSampleData``; a numpy array or a frame as for every model.
    """

    @classmethod
    def _sample_interfaces(cls) -> tuple[type[DataInterface], ...]:
        others = (interface for interface in sample_data_interfaces() if interface is not TorchData)
        return (TorchData, TorchSampleData, *others)

    def _sample_kinds(self) -> str:
        return (
            "a torch Tensor, a dict (string keys), list or tuple of Tensors, a numpy ndarray, "
            "a pandas or polars DataFrame or a pyarrow Table"
        )

    def _to_onnx(self, model: Any, kwargs: dict[str, Any]) -> onnx.ModelProto:
        return export_to_onnx(model, self._sample_raw(), kwargs)

    def _model_specific_metadata(self) -> dict[str, Any]:
        model = self.model
        if model is None:
            return {}
        return {"torch_version": torch_module().__version__, "model_class": class_path(type(model))}


class TorchModel(TorchInterface):
    """A PyTorch ``nn.Module``, saved as its ``state_dict`` in ``model.pt``.

    Only the weights are stored, never the module object, so loading needs the
    architecture: an instance of the model's class to load the weights into, given as
    ``ModelLoadKwargs(model={"model": MyNet()})`` (as in OpsML 3), or as the model of the
    interface you load into (``load_card(..., interface=TorchModel(model=MyNet()))``).
    The card records the class (``model_specific_metadata["model_class"]``) so the error
    says which one. The loaded model is put in eval mode.

    Security: ``model.pt`` is read with ``torch.load(weights_only=True)``, which rebuilds
    tensors and plain containers only and never runs code from the file. Only if your
    state_dict holds other objects, opt in with ``ModelLoadKwargs(model={"weights_only":
    False})`` for models from writers you trust. Other ``ModelLoadKwargs(model=...)`` keys go
    to ``torch.load`` (tensors are mapped to the CPU unless you pass ``map_location``);
    ``ModelSaveKwargs(model=...)`` goes to ``torch.save``.

    ``ModelSaveKwargs(save_onnx=True)`` converts the model with ``torch.onnx.export``
    (``dynamo=False``), using the sample data as the example input; see
    ``docs/deep-learning.md`` for the input and output names.

    Args:
        model: A ``torch.nn.Module``.
        preprocessor: An object applied to inputs before the model (``preprocessor.joblib``).
        sample_data: Example input: a Tensor, a dict (string keys), list or tuple of
            Tensors (saved as ``sample-data.pt``), or a numpy array / pandas DataFrame.
        task_type: The model's task.
        drift_profile: Drift profiles by alias (see ``ModelInterface``).

    Raises:
        InvalidArgumentError: ``model`` is not an ``nn.Module``, or the sample data is not
            acceptable.
        MissingDependencyError: torch is not installed (extra ``torch``).
    """

    def __init__(
        self,
        model: Any = None,
        preprocessor: Any = None,
        sample_data: Any = None,
        task_type: TaskType | str | None = None,
        drift_profile: DriftProfileMap | dict[str, Any] | None = None,
    ) -> None:
        self._saved_class: str | None = None
        super().__init__(
            model=model,
            sample_data=sample_data,
            task_type=task_type,
            preprocessor=preprocessor,
            drift_profile=drift_profile,
        )

    def _validate_model(self, model: Any) -> None:
        if not isinstance(model, torch_module().nn.Module):
            raise UnsupportedTypeError(
                f"TorchModel expects a torch.nn.Module, got {type_name(model)}"
            )

    @property
    def model_type(self) -> ModelType:
        """Always ``ModelType.Pytorch``."""
        return ModelType.Pytorch

    def _save_extra(self, model: Any, save_kwargs: ModelSaveKwargs | None) -> dict[str, Any]:
        """Record the model's class (named in errors when the architecture is missing)."""
        return {MODEL_CLASS_KEY: class_path(type(model))}

    def _use_extra(self, extra: dict[str, Any]) -> None:
        """The weights go into the given architecture; remember what they came from."""
        self._saved_class = extra.get(MODEL_CLASS_KEY)

    def _save_model(self, model: Any, path: Path, kwargs: dict[str, Any]) -> str:
        torch = torch_module()
        file_name = f"{SaveName.Model}.{Suffix.Pt}"
        with translate_errors("write", path / file_name):
            torch.save(model.state_dict(), path / file_name, **kwargs)
        return file_name

    def _load_model(self, file: Path, kwargs: dict[str, Any]) -> Any:
        torch = torch_module()
        architecture = kwargs.pop(ARCHITECTURE_KEY, None)
        if architecture is None:
            architecture = self.model
        if architecture is None:
            saved = self._saved_class or "the model's class"
            raise SerializationError(
                f"TorchModel stores only the weights (state_dict) of {saved}; to load them, "
                "pass an instance of that class: ModelLoadKwargs(model={'model': MyNet(...)}) "
                "or load_card(..., interface=TorchModel(model=MyNet(...)))"
            )
        if not isinstance(architecture, torch.nn.Module):
            raise InvalidArgumentError(
                "ModelLoadKwargs(model={'model': ...}) must be an instance of your "
                f"torch.nn.Module class, got {type_name(architecture)}"
            )
        load_kwargs = {"weights_only": True, "map_location": "cpu", **kwargs}
        with translate_errors("read", file):
            state_dict = torch.load(file, **load_kwargs)
        try:
            architecture.load_state_dict(state_dict)
        except (RuntimeError, TypeError, AttributeError) as exc:
            raise SerializationError(
                f"the weights in {file.name} (saved from {self._saved_class or 'a model'}) do "
                f"not fit {type_name(architecture)}: {exc}"
            ) from exc
        return architecture.eval()
