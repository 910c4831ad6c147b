"""HuggingFaceModel: a transformers model or pipeline and its processors, saved with
``save_pretrained`` into ``model/``, ``tokenizer/``, ``feature-extractor/`` and
``image-processor/``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsml._compat import require
from opsml.errors import InvalidArgumentError, SerializationError, UnsupportedTypeError
from opsml.interfaces._data_base import translate_errors, type_name
from opsml.interfaces._enums import (
    DataType,
    HuggingFaceORTModel,
    HuggingFaceTask,
    ModelType,
    TaskType,
)
from opsml.interfaces._kwargs import ModelLoadKwargs, ModelSaveKwargs
from opsml.interfaces._model_base import (
    DataProcessor,
    ModelInterfaceMetadata,
    ModelInterfaceSaveMetadata,
)
from opsml.interfaces._onnx import quantize_dynamic
from opsml.interfaces.model._torch import (
    ARCHITECTURE_KEY,
    TorchInterface,
    export_to_onnx,
    torch_module,
)
from opsml.types import DriftProfileMap, SaveName

if TYPE_CHECKING:
    import onnx

__all__ = ["HuggingFaceModel", "HuggingFaceOnnxArgs"]

_EXTRA = "huggingface"
_LOCAL_ONLY = {"local_files_only": True}

# save_metadata.extra keys: what load() needs without the rest of the card.
_MODEL_CLASS_KEY = "hf_model_type"
_PIPELINE_TASK_KEY = "pipeline_task"
_HF_TASK_KEY = "hf_task"
_SAMPLE_TYPE_KEY = "sample_data_type"


def _transformers() -> Any:
    require("torch", _EXTRA)
    return require("transformers", _EXTRA)


@dataclass(frozen=True)
class _Processor:
    """One kind of processor: its attribute, folder, transformers base class, Auto loader
    and ``DataProcessor.type``."""

    attr: str
    folder: str
    base: str
    auto: str
    role: str

    def validate(self, obj: Any) -> None:
        base = getattr(_transformers(), self.base)
        if not isinstance(obj, base):
            raise InvalidArgumentError(
                f"HuggingFaceModel {self.attr} must be a transformers {self.base}, got "
                f"{type_name(obj)}"
            )

    def load(self, folder: Path, class_name: str, kwargs: dict[str, Any]) -> Any:
        """Load with the recorded transformers class, else the Auto class."""
        transformers = _transformers()
        base = getattr(transformers, self.base)
        loader: Any = getattr(transformers, class_name, None)
        if not (isinstance(loader, type) and issubclass(loader, base)):
            loader = getattr(transformers, self.auto)
        with translate_errors("read", folder):
            return loader.from_pretrained(folder, **{**_LOCAL_ONLY, **kwargs})


_PROCESSORS = {
    processor.attr: processor
    for processor in (
        _Processor(
            "tokenizer", SaveName.Tokenizer, "PreTrainedTokenizerBase", "AutoTokenizer", "Tokenizer"
        ),
        _Processor(
            "feature_extractor",
            SaveName.FeatureExtractor,
            "FeatureExtractionMixin",
            "AutoFeatureExtractor",
            "FeatureExtractor",
        ),
        _Processor(
            "image_processor",
            SaveName.ImageProcessor,
            "BaseImageProcessor",
            "AutoImageProcessor",
            "ImageProcessor",
        ),
    )
}


# optimum's quantization settings, told apart by class (optimum itself is never imported).
_QUANTIZATION_CONFIGS = ("AutoQuantizationConfig", "ORTConfig", "QuantizationConfig")


def _is_quantization_config(config: Any) -> bool:
    return any(
        cls.__name__ in _QUANTIZATION_CONFIGS and cls.__module__.startswith("optimum")
        for cls in type(config).__mro__
    )


def _quantization_settings(config: Any) -> tuple[bool, bool]:
    """``(per_channel, unsigned)`` from an optimum config (an ``ORTConfig`` holds one)."""
    settings = getattr(config, "quantization", config)
    if settings is None:
        return False, False
    if getattr(settings, "is_static", False):
        raise SerializationError(
            "static quantization needs calibration data, which HuggingFaceModel does not "
            "take; use a dynamic config (is_static=False)"
        )
    weights = str(getattr(settings, "weights_dtype", "")).lower()
    return bool(getattr(settings, "per_channel", False)), "uint8" in weights


class HuggingFaceOnnxArgs(dict[str, Any]):
    """ONNX arguments of a HuggingFaceModel: ``ModelSaveKwargs(onnx=HuggingFaceOnnxArgs(...))``.

    OpsML 3 converted through optimum; opsml exports the model with ``torch.onnx.export``
    (the same conversion as ``TorchModel``), driven by the sample data, so ``ort_type``
    and ``provider`` are recorded in the card but do not change the conversion. With
    ``quantize=True`` the exported model's weights are quantized to 8 bits with
    onnxruntime's dynamic quantizer, following ``config`` (optimum's
    ``AutoQuantizationConfig``/``QuantizationConfig``, or an ``ORTConfig`` holding one):
    ``per_channel`` and ``weights_dtype`` are honoured; static quantization is refused at
    save time, as it needs calibration data. It is a dict, so it is stored in the card as
    the save kwargs (the config as its ``repr``).

    Args:
        ort_type: The optimum ORT class the model corresponds to.
        provider: The onnxruntime provider meant to run the model.
        quantize: Quantize the exported model (dynamic, 8-bit weights).
        config: An optimum quantization config, used when ``quantize`` is ``True``.
        extra_kwargs: Passed to ``torch.onnx.export`` (e.g. ``{"opset_version": 17}``).

    Raises:
        InvalidArgumentError: ``ort_type`` is unknown.
        UnsupportedTypeError: ``config`` is not an optimum quantization config (with OpsML
            3's message).
    """

    def __init__(
        self,
        ort_type: HuggingFaceORTModel | str,
        provider: str = "CPUExecutionProvider",
        quantize: bool = False,
        config: Any = None,
        extra_kwargs: dict[str, Any] | None = None,
    ) -> None:
        try:
            ort = HuggingFaceORTModel(ort_type)
        except ValueError as exc:
            raise InvalidArgumentError(f"unknown HuggingFaceORTModel {ort_type!r}") from exc
        if config is not None and not _is_quantization_config(config):
            raise UnsupportedTypeError(
                "Config must be an instance of AutoQuantizationConfig, ORTConfig, or "
                "QuantizationConfig"
            )
        super().__init__(
            ort_type=ort.value,
            provider=provider,
            quantize=bool(quantize),
            export=True,
            config=config,
            extra_kwargs=dict(extra_kwargs or {}),
        )

    @property
    def ort_type(self) -> HuggingFaceORTModel:
        """The optimum ORT class the model corresponds to."""
        return HuggingFaceORTModel(self["ort_type"])

    @property
    def provider(self) -> str:
        """The onnxruntime provider meant to run the model."""
        return str(self["provider"])

    @property
    def quantize(self) -> bool:
        """Whether the exported model is quantized."""
        return bool(self["quantize"])

    @property
    def export(self) -> bool:
        """Always ``True``: the model is exported from torch."""
        return True

    @property
    def config(self) -> Any:
        """The optimum quantization config, or ``None``."""
        return self.get("config")

    @property
    def extra_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``torch.onnx.export``."""
        return dict(self["extra_kwargs"])


_ONNX_ARG_KEYS = ("ort_type", "provider", "quantize", "export", "config")


class HuggingFaceModel(TorchInterface):
    """A transformers ``PreTrainedModel`` or ``Pipeline``, with its tokenizer, feature
    extractor and image processor.

    Each is written with ``save_pretrained`` into its own folder: ``model/`` (safetensors
    weights and ``config.json``; a pipeline writes its processors there too),
    ``tokenizer/``, ``feature-extractor/``, ``image-processor/``. Loading uses the recorded
    transformers class (``BertForSequenceClassification.from_pretrained``; the processors
    fall back to ``AutoTokenizer`` / ``AutoFeatureExtractor`` / ``AutoImageProcessor``), or
    ``transformers.pipeline(task, model=folder)`` for a pipeline, always from the local
    folder (``local_files_only=True``): nothing is downloaded. For a model class that is
    not part of transformers, pass it: ``ModelLoadKwargs(model={"model": MyModel})``.
    Other ``ModelLoadKwargs(model=...)`` keys go to ``from_pretrained`` (or ``pipeline``),
    ``ModelLoadKwargs(preprocessor=...)`` to the processors' ``from_pretrained``;
    ``ModelSaveKwargs(model=...)`` / ``(preprocessor=...)`` to ``save_pretrained``.

    Security: weights are safetensors and processors JSON; opsml never sets
    ``trust_remote_code``, so loading runs no code from the card.

    Sample data (``sample-data.pt``, read back with ``weights_only=True``): a
    ``BatchEncoding`` (returned as one), a dict of tensors, a tensor, a string or a list of
    strings. ``ModelSaveKwargs(save_onnx=True)`` (or ``onnx=HuggingFaceOnnxArgs(...)``)
    exports a model (not a pipeline) with ``torch.onnx.export``; text sample data is
    tokenized first. Inputs are named after the sample's keys (``input_ids``,
    ``attention_mask``...), outputs after the model output's (``logits``...).

    Args:
        model: A ``transformers.PreTrainedModel`` or ``transformers.Pipeline``.
        tokenizer: A ``PreTrainedTokenizerBase``.
        feature_extractor: A ``FeatureExtractionMixin`` (e.g. an audio feature extractor).
        image_processor: A ``BaseImageProcessor``.
        sample_data: Example input (see above).
        hf_task: The pipeline task; taken from the pipeline when ``model`` is one.
        task_type: The opsml task type (not the HuggingFace task).
        drift_profile: Drift profiles by alias (see ``ModelInterface``).

    Raises:
        InvalidArgumentError: ``model`` or a processor has the wrong type, or the sample
            data is not acceptable.
        MissingDependencyError: transformers or torch is not installed (extra
            ``huggingface``).
    """

    def __init__(
        self,
        model: Any = None,
        tokenizer: Any = None,
        feature_extractor: Any = None,
        image_processor: Any = None,
        sample_data: Any = None,
        hf_task: HuggingFaceTask | str | None = None,
        task_type: TaskType | str | None = None,
        drift_profile: DriftProfileMap | dict[str, Any] | None = None,
    ) -> None:
        self._hf_task = HuggingFaceTask.Undefined
        self._load_extra: dict[str, Any] = {}
        self._tokenizer: Any = None
        self._feature_extractor: Any = None
        self._image_processor: Any = None
        self.hf_task = hf_task
        super().__init__(
            model=model, sample_data=sample_data, task_type=task_type, drift_profile=drift_profile
        )
        self.tokenizer = tokenizer
        self.feature_extractor = feature_extractor
        self.image_processor = image_processor

    @property
    def hf_task(self) -> HuggingFaceTask:
        """The task: a pipeline's own, else as given (``HuggingFaceTask.Undefined``)."""
        if self.is_pipeline:
            task = HuggingFaceTask.from_string(str(self.model.task))
            return HuggingFaceTask.Undefined if task is None else task
        return self._hf_task

    @hf_task.setter
    def hf_task(self, hf_task: HuggingFaceTask | str | None) -> None:
        if hf_task is None:
            self._hf_task = HuggingFaceTask.Undefined
            return
        try:
            self._hf_task = HuggingFaceTask(hf_task)
        except ValueError as exc:
            raise InvalidArgumentError(f"unknown hf_task {hf_task!r}") from exc

    @property
    def huggingface_task(self) -> HuggingFaceTask:
        """OpsML 3 name of :attr:`hf_task`."""
        return self.hf_task

    @property
    def tokenizer(self) -> Any:
        """The tokenizer, or ``None``."""
        return self._tokenizer

    @tokenizer.setter
    def tokenizer(self, tokenizer: Any) -> None:
        self._tokenizer = self._checked("tokenizer", tokenizer)

    @property
    def feature_extractor(self) -> Any:
        """The feature extractor, or ``None``."""
        return self._feature_extractor

    @feature_extractor.setter
    def feature_extractor(self, feature_extractor: Any) -> None:
        self._feature_extractor = self._checked("feature_extractor", feature_extractor)

    @property
    def image_processor(self) -> Any:
        """The image processor, or ``None``."""
        return self._image_processor

    @image_processor.setter
    def image_processor(self, image_processor: Any) -> None:
        self._image_processor = self._checked("image_processor", image_processor)

    @staticmethod
    def _checked(attr: str, obj: Any) -> Any:
        if obj is not None:
            _PROCESSORS[attr].validate(obj)
        return obj

    def _validate_model(self, model: Any) -> None:
        transformers = _transformers()
        if not isinstance(model, transformers.Pipeline | transformers.PreTrainedModel):
            raise UnsupportedTypeError(
                "HuggingFaceModel expects a transformers PreTrainedModel or Pipeline, got "
                f"{type_name(model)}"
            )

    @property
    def is_pipeline(self) -> bool:
        """Whether the model is a transformers ``Pipeline``."""
        return self.model is not None and isinstance(self.model, _transformers().Pipeline)

    @property
    def model_type(self) -> ModelType:
        """``ModelType.Pytorch``, the model's backend (as OpsML 3 records it)."""
        return ModelType.Pytorch

    def save(
        self, path: Path, save_kwargs: ModelSaveKwargs | None = None
    ) -> ModelInterfaceMetadata:
        """Save the model, its processors and sample data.

        Args:
            path: The card's folder; created if missing.
            save_kwargs: ``model`` goes to the model's ``save_pretrained``, ``preprocessor``
                to the processors'; ``onnx`` (a dict or ``HuggingFaceOnnxArgs``) with
                ``save_onnx=True`` also exports ``onnx-model.onnx``.

        Returns:
            The interface metadata; ``.save_metadata`` names the files written.

        Raises:
            SerializationError: There is no model, or a writer or the export failed.
        """
        interface_metadata = super().save(path, save_kwargs)
        metadata = interface_metadata.save_metadata
        kwargs = dict(save_kwargs.preprocessor or {}) if save_kwargs is not None else {}
        for processor in _PROCESSORS.values():
            obj = getattr(self, processor.attr)
            if obj is None:
                continue
            with translate_errors("write", Path(path) / processor.folder):
                obj.save_pretrained(Path(path) / processor.folder, **kwargs)
            metadata.data_processor_map[processor.attr] = DataProcessor(
                name=type(obj).__name__, uri=processor.folder, type=processor.role
            )
        model = self._require_model()
        extra: dict[str, Any] = {_HF_TASK_KEY: self.hf_task.value}
        if self.is_pipeline:
            extra[_PIPELINE_TASK_KEY] = str(model.task)
        else:
            extra[_MODEL_CLASS_KEY] = type(model).__name__
        if self.data_type is DataType.TransformerBatch:
            extra[_SAMPLE_TYPE_KEY] = DataType.TransformerBatch.value
        metadata.extra = {**(metadata.extra or {}), **extra}
        return interface_metadata

    def load(
        self,
        path: Path,
        metadata: ModelInterfaceSaveMetadata | ModelInterfaceMetadata,
        load_kwargs: ModelLoadKwargs | None = None,
    ) -> None:
        """Load the model, its processors and sample data from the card's folder.

        Nothing on the interface changes unless everything loads.

        Args:
            path: The card's folder (its files already verified by the card).
            metadata: What ``save`` returned, or its ``save_metadata``.
            load_kwargs: ``model`` goes to ``from_pretrained`` (or ``pipeline``; the key
                ``"model"`` may name the model class), ``preprocessor`` to the processors'
                ``from_pretrained``; ``load_onnx=True`` also opens the ONNX model.

        Raises:
            SerializationError: A file is missing or unreadable.
        """
        path = Path(path)
        if isinstance(metadata, ModelInterfaceMetadata):
            metadata = metadata.save_metadata
        kwargs = load_kwargs or ModelLoadKwargs()
        processor_kwargs = dict(kwargs.preprocessor or {})
        processors: dict[str, Any] = {}
        for processor in _PROCESSORS.values():
            saved = metadata.data_processor_map.get(processor.attr)
            if saved is not None:
                processors[processor.attr] = processor.load(
                    path / saved.uri, saved.name, processor_kwargs
                )
        self._load_extra = dict(metadata.extra or {})
        super().load(path, metadata, kwargs)
        for attr, obj in processors.items():
            setattr(self, attr, obj)
        task = HuggingFaceTask.from_string(str(self._load_extra.get(_HF_TASK_KEY)))
        if task is not None:
            self._hf_task = task
        sample = self._sample
        if sample is not None and self._load_extra.get(_SAMPLE_TYPE_KEY):
            sample.data = _transformers().BatchEncoding(sample.data)

    def _save_model(self, model: Any, path: Path, kwargs: dict[str, Any]) -> str:
        folder = str(SaveName.Model)
        with translate_errors("write", path / folder):
            model.save_pretrained(path / folder, **kwargs)
        return folder

    def _load_model(self, file: Path, kwargs: dict[str, Any]) -> Any:
        transformers = _transformers()
        given = kwargs.pop(ARCHITECTURE_KEY, None)
        pipeline_task = self._load_extra.get(_PIPELINE_TASK_KEY)
        if pipeline_task is not None:
            if given is not None:
                raise InvalidArgumentError(
                    "this card holds a pipeline, rebuilt with transformers.pipeline(task, "
                    "model=folder); remove 'model' from ModelLoadKwargs(model=...)"
                )
            with translate_errors("read", file):
                return transformers.pipeline(str(pipeline_task), model=str(file), **kwargs)
        model_cls = self._model_class(given)
        with translate_errors("read", file):
            model = model_cls.from_pretrained(file, **{**_LOCAL_ONLY, **kwargs})
        return model.eval()

    def _model_class(self, given: Any) -> Any:
        """The class to load with: the given one, the recorded transformers class, or the
        class of the interface's current model."""
        transformers = _transformers()
        base = transformers.PreTrainedModel
        if given is not None:
            model_cls = given if isinstance(given, type) else type(given)
            if not issubclass(model_cls, base):
                raise InvalidArgumentError(
                    "ModelLoadKwargs(model={'model': ...}) must be a transformers "
                    f"PreTrainedModel class or instance, got {type_name(given)}"
                )
            return model_cls
        name = str(self._load_extra.get(_MODEL_CLASS_KEY, ""))
        recorded = getattr(transformers, name, None) if name else None
        if isinstance(recorded, type) and issubclass(recorded, base):
            return recorded
        if self.model is not None and not self.is_pipeline:
            return type(self.model)
        raise SerializationError(
            f"{name or 'the saved model class'} is not a transformers class; pass it: "
            "ModelLoadKwargs(model={'model': MyModel})"
        )

    def _to_onnx(self, model: Any, kwargs: dict[str, Any]) -> onnx.ModelProto:
        if self.is_pipeline:
            raise SerializationError(
                "HuggingFaceModel cannot convert a pipeline to ONNX; register the pipeline's "
                "model (HuggingFaceModel(model=pipe.model, tokenizer=pipe.tokenizer, ...))"
            )
        export_kwargs = {k: v for k, v in kwargs.items() if k not in _ONNX_ARG_KEYS}
        export_kwargs.update(export_kwargs.pop("extra_kwargs", None) or {})
        quantize = bool(kwargs.get("quantize"))
        settings = _quantization_settings(kwargs.get("config")) if quantize else (False, False)
        sample = self._sample_raw()
        if isinstance(sample, str | list) and self.tokenizer is not None:
            sample = self.tokenizer(sample, return_tensors="pt", padding=True)
        if isinstance(sample, Mapping):
            sample = dict(sample)
        proto = export_to_onnx(model, sample, export_kwargs, sequence_axis=True)
        return quantize_dynamic(proto, *settings) if quantize else proto

    def _model_specific_metadata(self) -> dict[str, Any]:
        model = self.model
        if model is None:
            return {}
        names = {
            processor.attr: type(getattr(self, processor.attr)).__name__
            for processor in _PROCESSORS.values()
            if getattr(self, processor.attr) is not None
        }
        inner = model.model if self.is_pipeline else model
        return {
            "hf_task": self.hf_task.value,
            "model_backend": ModelType.Pytorch.value,
            "is_pipeline": self.is_pipeline,
            "has_tokenizer": "tokenizer" in names,
            "has_feature_extractor": "feature_extractor" in names,
            "has_image_processor": "image_processor" in names,
            "tokenizer_name": names.get("tokenizer", "undefined"),
            "feature_extractor_name": names.get("feature_extractor", "undefined"),
            "image_processor_name": names.get("image_processor", "undefined"),
            "hf_model_type": type(inner).__name__,
            "transformers_version": _transformers().__version__,
            "torch_version": torch_module().__version__,
        }
