"""OnnxModel: an existing ONNX model (``onnx.ModelProto``), saved as ``onnx-model.onnx``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsml._compat import require
from opsml.errors import (
    CardStateError,
    SerializationError,
    UnsupportedTypeError,
)
from opsml.interfaces._data_base import translate_errors, type_name
from opsml.interfaces._enums import ModelType, TaskType
from opsml.interfaces._kwargs import ModelLoadKwargs, ModelSaveKwargs
from opsml.interfaces._model_base import (
    ModelInterface,
    ModelInterfaceMetadata,
    ModelInterfaceSaveMetadata,
)
from opsml.interfaces._onnx import ONNX_EXTRA, ONNX_FILE_NAME, OnnxSession, write_onnx_model
from opsml.types import DriftProfileMap

if TYPE_CHECKING:
    import onnx

__all__ = ["OnnxModel"]


def _onnx() -> Any:
    return require("onnx", ONNX_EXTRA)


class OnnxModel(ModelInterface):
    """A model that already is ONNX: an ``onnx.ModelProto``, or the path of a ``.onnx`` file.

    Saved as ``onnx-model.onnx``, which is both the model file and the ONNX file of the
    card. :attr:`onnx_session` (also :attr:`session`) is ready as soon as a model is set
    and after every ``load``, with or without ``load_onnx``; ``ModelLoadKwargs(onnx=...)``
    goes to ``onnxruntime.InferenceSession`` (default provider: CPU) and
    ``ModelLoadKwargs(model=...)`` to ``onnx.load``. The card stores the model's input and
    output schema. ``model_type`` is ``Onnx``; the task is ``Undefined`` unless given.

    Args:
        model: An ``onnx.ModelProto``, or a path to an ``.onnx`` file (read immediately).
        sample_data: A pandas ``DataFrame`` or numpy ``ndarray`` the model accepts.
        task_type: The model's task.
        drift_profile: Drift profiles by alias (see ``ModelInterface``).
        preprocessor: An object applied to inputs before the model (``preprocessor.joblib``).

    Raises:
        UnsupportedTypeError: ``model`` is not an ONNX model.
        SerializationError: The file cannot be read, or onnxruntime cannot load the model.
        MissingDependencyError: onnx or onnxruntime is not installed (extra ``onnx``).
    """

    def __init__(
        self,
        model: Any = None,
        sample_data: Any = None,
        task_type: TaskType | str | None = None,
        preprocessor: Any = None,
        drift_profile: DriftProfileMap | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            model=model,
            sample_data=sample_data,
            task_type=task_type,
            preprocessor=preprocessor,
            drift_profile=drift_profile,
        )

    @property
    def model(self) -> Any:
        """The ``onnx.ModelProto``, or ``None``; setting it (a proto or a path) opens a session."""
        return self._model

    @model.setter
    def model(self, model: Any) -> None:
        if isinstance(model, str | Path):
            file = Path(model)
            with translate_errors("read", file):
                model = _onnx().load(str(file))
        if model is None:
            self._model = None
            self.onnx_session = None
            return
        self._validate_model(model)
        session = OnnxSession(model)
        self._model = model
        self.onnx_session = session

    def _validate_model(self, model: Any) -> None:
        if not isinstance(model, _onnx().ModelProto):
            raise UnsupportedTypeError(
                "OnnxModel expects an onnx.ModelProto or the path of an .onnx file, "
                f"got {type_name(model)}"
            )

    @property
    def session(self) -> OnnxSession:
        """The ONNX session (OpsML 3 name of :attr:`onnx_session`).

        Raises:
            CardStateError: No model is set or loaded yet.
        """
        if self.onnx_session is None:
            raise CardStateError("OnnxModel has no ONNX session: set a model or load the card")
        return self.onnx_session

    @property
    def model_type(self) -> ModelType:
        """``Onnx`` when a model is set, else ``Unknown``."""
        return ModelType.Unknown if self.model is None else ModelType.Onnx

    def _converts_to_onnx(self, save_kwargs: ModelSaveKwargs) -> bool:
        # The model file is also the card's ONNX file; ModelSaveKwargs(model=...) is
        # refused by _save_model (ONNX files are written whole, without options).
        return True

    def load(
        self,
        path: Path,
        metadata: ModelInterfaceSaveMetadata | ModelInterfaceMetadata,
        load_kwargs: ModelLoadKwargs | None = None,
    ) -> None:
        """Load the model and always open its session (``onnx`` kwargs go to onnxruntime)."""
        if isinstance(metadata, ModelInterfaceMetadata):
            metadata = metadata.save_metadata
        kwargs = load_kwargs or ModelLoadKwargs()
        metadata = metadata.model_copy(
            update={"onnx_model_uri": metadata.onnx_model_uri or metadata.model_uri}
        )
        super().load(
            path,
            metadata,
            ModelLoadKwargs(
                onnx=kwargs.onnx,
                model=kwargs.model,
                preprocessor=kwargs.preprocessor,
                load_onnx=True,
            ),
        )

    def _save_model(self, model: Any, path: Path, kwargs: dict[str, Any]) -> str:
        if kwargs:
            raise SerializationError(
                f"OnnxModel writes the ONNX model whole and takes no model save kwargs, "
                f"got {sorted(kwargs)}"
            )
        uri, schema = write_onnx_model(model, path)
        self._onnx_schema = schema
        return uri

    def _save_onnx(self, model: Any, path: Path, kwargs: dict[str, Any]) -> str:
        # The model is ONNX already: the model file (written by _save_model) is the ONNX file.
        return ONNX_FILE_NAME

    def _load_model(self, file: Path, kwargs: dict[str, Any]) -> Any:
        with translate_errors("read", file):
            return _onnx().load(str(file), **kwargs)

    def _model_specific_metadata(self) -> dict[str, Any]:
        if self.model is None:
            return {}
        proto: onnx.ModelProto = self.model
        return {
            "onnx_version": _onnx().__version__,
            "ir_version": int(proto.ir_version),
            "opset_import": {
                entry.domain or "ai.onnx": int(entry.version) for entry in proto.opset_import
            },
            "producer_name": proto.producer_name,
            "producer_version": proto.producer_version,
        }
