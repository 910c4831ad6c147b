"""The model interface protocol and its metadata.

The card drives a model interface exactly like a data interface (see ``_data_base``)::

    saved = interface.save(card_dir, save_kwargs)
    metadata = interface.get_interface_metadata(saved)
    ...
    interface = resolve_interface(metadata)
    interface.load(card_dir, metadata.save_metadata, load_kwargs)

The base class implements the parts every model library shares: sample data (its first
row, saved with the matching data interface as ``sample-data.<suffix>``), the preprocessor
(``preprocessor.joblib``) and the task type. A built-in subclass only writes and reads
the model itself (``_save_model`` / ``_load_model``); a user's subclass may instead
override ``save`` and ``load`` entirely, as in OpsML 3, returning either the whole
:class:`ModelInterfaceMetadata` (OpsML 3's way, and what the built-ins return) or only
the :class:`ModelInterfaceSaveMetadata`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from opsml._compat import require
from opsml._validation import keyword_names, reject_unknown_arguments
from opsml.errors import InvalidArgumentError, SerializationError, UnsupportedTypeError
from opsml.interfaces._data_base import (
    DataInterface,
    ExtraDict,
    RelativePath,
    translate_errors,
    type_name,
)
from opsml.interfaces._drift import (
    DriftProfiles,
    read_missing_drift_profiles,
    save_drift_profiles,
)
from opsml.interfaces._enums import DataType, ModelType, ProcessorType, TaskType
from opsml.interfaces._kwargs import ModelLoadKwargs, ModelSaveKwargs
from opsml.interfaces._library import data_libraries
from opsml.interfaces._onnx import (
    ONNX_EXTRA,
    OnnxSchema,
    OnnxSession,
    load_onnx_session,
    write_onnx_model,
)
from opsml.interfaces._schema import FeatureSchema, WithSchema
from opsml.interfaces.data._numpy import NumpyCollection
from opsml.types import CommonKwargs, DriftProfileMap, DriftProfileUri, SaveName, Suffix

if TYPE_CHECKING:
    import onnx

__all__ = [
    "DataProcessor",
    "ModelInterface",
    "ModelInterfaceMetadata",
    "ModelInterfaceSaveMetadata",
    "sample_data_interfaces",
]

# Arguments of ModelInterface.__init__, also taken by __new__ (see ModelInterface.__new__).
_BASE_ARGS = ("model", "sample_data", "task_type", "preprocessor", "drift_profile")
_SAMPLE_DATA_KEY = CommonKwargs.SampleDataInterfaceType.value
_PREPROCESSOR_KEY = CommonKwargs.Preprocessor.value


class DataProcessor(BaseModel):
    """A saved data processor (e.g. the preprocessor) of a model.

    Attributes:
        name: The processor's class name, e.g. ``"StandardScaler"``.
        uri: Its file, relative to the card folder.
        type: Its role, a :class:`ProcessorType` (``Preprocessor`` unless given).
    """

    model_config = ConfigDict(defer_build=True)

    name: str
    uri: RelativePath
    type: ProcessorType = ProcessorType.Preprocessor


class ModelInterfaceSaveMetadata(BaseModel):
    """What a model interface's ``save`` wrote.

    Attributes:
        model_uri: The model file, relative to the card folder (e.g. ``"model.joblib"``).
        data_processor_map: Saved processors by role (``{"preprocessor": DataProcessor}``).
        sample_data_uri: The sample data file, if sample data was given.
        onnx_model_uri: The ONNX model file, if one was saved.
        drift_profile_uri_map: The drift profile files by alias (``drift/<alias>.json``),
            if any were saved.
        extra: Anything else needed to load the files back; built-ins record the sample
            data's interface under ``"sample_data_interface_type"``.
        save_kwargs: The save kwargs used.
    """

    model_config = ConfigDict(defer_build=True)

    model_uri: RelativePath
    data_processor_map: dict[str, DataProcessor] = Field(default_factory=dict)
    sample_data_uri: RelativePath | None = None
    onnx_model_uri: RelativePath | None = None
    drift_profile_uri_map: dict[str, DriftProfileUri] | None = None
    extra: ExtraDict = None
    save_kwargs: ModelSaveKwargs | None = None


class ModelInterfaceMetadata(WithSchema):
    """Everything a ModelCard records about its interface.

    Attributes:
        save_metadata: What ``save`` wrote.
        task_type: The model's task.
        model_type: The library-level kind of model.
        data_type: The kind of sample data (``NotProvided`` without sample data).
        schema: The feature schema of the sample data.
        onnx_schema: Input/output schema of the ONNX model, when one is saved.
        extra_metadata: Interface-specific facts.
        interface_type: The interface's class name, e.g. ``"SklearnModel"``; set by
            ``get_interface_metadata``.
        model_specific_metadata: Library facts: versions, model class, parameters.

    Args:
        onnx_session: OpsML 3's way to give the ONNX schema: a session whose ``schema``
            becomes ``onnx_schema``. Only the schema is stored.
        **data: The attributes above.
    """

    save_metadata: ModelInterfaceSaveMetadata
    task_type: TaskType = TaskType.Undefined
    model_type: ModelType = ModelType.Unknown
    data_type: DataType = DataType.NotProvided
    onnx_schema: OnnxSchema | None = None
    extra_metadata: dict[str, Any] = Field(default_factory=dict)
    interface_type: str = ""
    model_specific_metadata: dict[str, Any] = Field(default_factory=dict)

    def __init__(self, onnx_session: OnnxSession | None = None, **data: Any) -> None:
        if onnx_session is not None and data.get("onnx_schema") is None:
            data["onnx_schema"] = onnx_session.schema
        super().__init__(**data)

    @field_validator("interface_type", mode="before")
    @classmethod
    def _opsml3_interface_type(cls, value: object) -> object:
        """OpsML 3's names (``"Sklearn"``, a ``ModelInterfaceType``) read as the class names
        this field holds, so cards downloaded by OpsML 3 load."""
        return _OPSML3_INTERFACE_TYPES.get(value, value) if isinstance(value, str) else value

    @property
    def onnx_session(self) -> OnnxSession | None:
        """The ONNX model's inputs and outputs as an :class:`OnnxSession` without a runtime
        session (OpsML 3's attribute), or ``None`` without an ONNX model."""
        return None if self.onnx_schema is None else OnnxSession.detached(self.onnx_schema)


_OPSML3_INTERFACE_TYPES = {
    "Sklearn": "SklearnModel",
    "Torch": "TorchModel",
    "Lightning": "LightningModel",
    "HuggingFace": "HuggingFaceModel",
    "LightGBM": "LightGBMModel",
    "XGBoost": "XGBoostModel",
    "CatBoost": "CatBoostModel",
    "Onnx": "OnnxModel",
    "TensorFlow": "TensorFlowModel",
}


def sample_data_interfaces() -> tuple[type[DataInterface], ...]:
    """The data interfaces that can hold a model's sample data, tried in order: each data
    library's interface, then a list, tuple or dict of numpy arrays (``NumpyCollection``)."""
    return (*(library.interface for library in data_libraries()), NumpyCollection)


def _task_type(value: TaskType | str) -> TaskType:
    try:
        return TaskType(value)
    except ValueError as exc:
        names = ", ".join(member.name for member in TaskType)
        raise InvalidArgumentError(f"unknown task_type {value!r}; expected one of {names}") from exc


class ModelInterface(DriftProfiles):
    """Base class of every model interface: a model plus what is needed to use it.

    Built-in subclasses (``SklearnModel``) need nothing more than their model. To support
    another library, subclass and implement :meth:`save` and :meth:`load` (and
    :meth:`_validate_model` to reject wrong objects early); see ``docs/interfaces.md``.

    A subclass written the OpsML 3 way, whose ``__new__`` passes the base arguments on
    (``super().__new__(cls, **kwargs)``) and whose ``__init__`` calls ``super().__init__()``
    without them, works too: ``__new__`` then sets them and that ``__init__`` keeps them.

    Args:
        model: The model; validated immediately by :meth:`_validate_model`.
        sample_data: Example input the model accepts: a pandas or polars ``DataFrame``, a
            pyarrow ``Table``, a numpy ``ndarray``, a torch ``Tensor``, a list, tuple or dict
            of numpy arrays, or a data interface holding one of those. As in OpsML 3 only
            its first row is kept (a data interface given is cut to it in place). Saved as
            ``sample-data.<suffix>``, used for the feature schema and the ONNX inputs.
        task_type: The model's task (a ``TaskType`` or its name); inferred from the model
            when omitted, where the library allows.
        preprocessor: An object applied to inputs before the model, saved with joblib as
            ``preprocessor.joblib``.
        drift_profile: Drift profiles by alias (a dict or ``DriftProfileMap`` of scouter
            profiles), saved as ``drift/<alias>.json``; more can be made with
            :meth:`create_drift_profile`.

    Raises:
        UnsupportedTypeError: The model or the sample data is of a type the interface
            cannot hold.
        InvalidArgumentError: The task type is unknown.
    """

    _model: Any
    _sample: DataInterface | None
    _task_type: TaskType | None
    _onnx_session: OnnxSession | None
    _onnx_schema: OnnxSchema | None
    preprocessor: Any

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        del args  # positional arguments are __init__'s business
        takes = keyword_names(cls.__init__)
        if takes is not None and kwargs:
            reject_unknown_arguments(cls.__name__, kwargs, takes)
        interface = super().__new__(cls)
        interface._model = None
        interface._sample = None
        interface._task_type = None
        interface.preprocessor = None
        interface._onnx_session = None
        interface._onnx_schema = None
        interface._drift_profiles = DriftProfileMap()
        if cls.__new__ is not ModelInterface.__new__:
            # An OpsML 3 style subclass: its own __new__ passed the base arguments here.
            ModelInterface._set_base_args(
                interface, **{key: kwargs[key] for key in _BASE_ARGS if key in kwargs}
            )
            interface.__dict__["_set_by_new"] = True
        return interface

    def __init__(
        self,
        model: Any = None,
        sample_data: Any = None,
        task_type: TaskType | str | None = None,
        preprocessor: Any = None,
        drift_profile: DriftProfileMap | dict[str, Any] | None = None,
    ) -> None:
        given = any(
            arg is not None for arg in (model, sample_data, task_type, preprocessor, drift_profile)
        )
        if self.__dict__.pop("_set_by_new", False) and not given:
            return  # super().__init__() of an OpsML 3 style subclass: __new__ set everything
        self._set_base_args(model, sample_data, task_type, preprocessor, drift_profile)

    def _set_base_args(
        self,
        model: Any = None,
        sample_data: Any = None,
        task_type: TaskType | str | None = None,
        preprocessor: Any = None,
        drift_profile: DriftProfileMap | dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.sample_data = sample_data
        self.task_type = task_type
        self.preprocessor = preprocessor
        self.drift_profile = drift_profile

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "get_interface_metadata" in vars(cls):
            raise TypeError(
                f"{cls.__name__} must not override get_interface_metadata(); "
                "implement save() and load() instead"
            )

    @property
    def model(self) -> Any:
        """The model, or ``None`` before it is set or loaded."""
        return self._model

    @model.setter
    def model(self, model: Any) -> None:
        if model is not None:
            self._validate_model(model)
        self._model = model

    def _validate_model(self, model: Any) -> None:
        """Raise :class:`UnsupportedTypeError` if ``model`` cannot be held; the base takes anything.

        Args:
            model: The candidate model (never ``None``).
        """

    @property
    def sample_data(self) -> Any:
        """The sample data: its data interface (``NumpyData``, ``PandasData``, ``TorchData``...)
        or, for a list, tuple or dict of arrays and other containers, the container itself
        (OpsML 3's rule); ``None`` without sample data."""
        if self._sample is None:
            return None
        return self._sample.data if self._sample._sample_as_raw else self._sample

    @sample_data.setter
    def sample_data(self, sample_data: Any) -> None:
        self._sample = None if sample_data is None else self._sample_interface_for(sample_data)

    def _sample_raw(self) -> Any:
        """The sample data object itself (a frame, an array...), or ``None``."""
        return None if self._sample is None else self._sample.data

    @classmethod
    def _sample_interfaces(cls) -> tuple[type[DataInterface], ...]:
        """The data interfaces that can hold this interface's sample data, tried in order."""
        return sample_data_interfaces()

    def _sample_interface_for(self, data: Any) -> DataInterface:
        """Wrap the first row of ``data`` in the data interface that holds it."""
        accepted = self._sample_interfaces()
        if isinstance(data, DataInterface):
            if type(data) not in accepted or data.data is None:
                raise UnsupportedTypeError(
                    "sample_data given as an interface must be a "
                    f"{', '.join(c.__name__ for c in accepted if not c._sample_as_raw)} "
                    f"holding data, got {type(data).__name__}"
                )
            data._data = data._first_rows(data.data)  # in place, as OpsML 3 does
            data.schema = None
            return data
        for interface_cls in accepted:
            if interface_cls._accepts(data):
                return interface_cls(data=interface_cls._first_rows(data))
        raise UnsupportedTypeError(
            f"{type(self).__name__} cannot take sample data of type {type_name(data)}; "
            f"give {self._sample_kinds()}"
        )

    def _sample_kinds(self) -> str:
        """The kinds of sample data accepted, for error messages."""
        kinds = ", ".join(library.kind for library in data_libraries())
        return f"{kinds}, a list, tuple or dict of numpy arrays, or a data interface holding one"

    @property
    def task_type(self) -> TaskType:
        """The task: as given, else inferred from the model, else ``TaskType.Undefined``."""
        if self._task_type is not None:
            return self._task_type
        if self._model is not None:
            return self._infer_task_type(self._model)
        return TaskType.Undefined

    @task_type.setter
    def task_type(self, task_type: TaskType | str | None) -> None:
        self._task_type = None if task_type is None else _task_type(task_type)

    def _infer_task_type(self, model: Any) -> TaskType:
        """The task of ``model`` when none was given; the base cannot tell."""
        return TaskType.Undefined

    @property
    def model_type(self) -> ModelType:
        """The library-level kind of model."""
        return ModelType.Unknown

    @property
    def data_type(self) -> DataType:
        """The kind of sample data, or ``DataType.NotProvided``."""
        return DataType.NotProvided if self._sample is None else self._sample.data_type

    @property
    def schema(self) -> FeatureSchema:
        """The feature schema of the sample data (empty without sample data)."""
        return FeatureSchema() if self._sample is None else self._sample.schema

    @property
    def preprocessor_name(self) -> str | None:
        """The preprocessor's class name, or ``None``."""
        return None if self.preprocessor is None else type(self.preprocessor).__name__

    @property
    def onnx_session(self) -> OnnxSession | None:
        """The ONNX session of the model, else ``None``.

        Set by ``save`` with ``ModelSaveKwargs(save_onnx=True)`` and by ``load`` with
        ``ModelLoadKwargs(load_onnx=True)``.
        """
        return self._onnx_session

    @onnx_session.setter
    def onnx_session(self, session: OnnxSession | None) -> None:
        if session is not None and not isinstance(session, OnnxSession):
            raise InvalidArgumentError(
                f"onnx_session must be an OnnxSession or None, got {type_name(session)}"
            )
        self._onnx_session = session
        self._onnx_schema = None if session is None else session.schema

    @property
    def onnx_schema(self) -> OnnxSchema | None:
        """Inputs and outputs of the ONNX model saved (or loaded), else ``None``."""
        return self._onnx_schema

    @property
    def interface_type(self) -> str:
        """The name recorded in the card to rebuild this interface: the class name."""
        return type(self).__name__

    def save(
        self, path: Path, save_kwargs: ModelSaveKwargs | None = None
    ) -> ModelInterfaceMetadata:
        """Write the model, sample data and preprocessor into the folder ``path``.

        Args:
            path: The card's folder; created if missing.
            save_kwargs: ``model`` and ``preprocessor`` dicts are passed to the writers;
                ``save_onnx=True`` also converts the model to ONNX (``onnx-model.onnx``,
                with ``onnx`` passed to the converter), records its schema and sets
                :attr:`onnx_session`. Drift profiles are saved as ``drift/<alias>.json``.

        Returns:
            The interface metadata (OpsML 3's return value): ``.save_metadata`` names the
            files written, relative to ``path``; ``.task_type``, ``.data_type``,
            ``.schema``, ``.onnx_session`` describe the model.

        Raises:
            SerializationError: There is no model, the interface does not implement
                saving (or ONNX conversion), ONNX was requested without sample data, or a
                writer failed.
        """
        path = Path(path)
        kwargs = save_kwargs or ModelSaveKwargs()
        model = self._require_model()
        with translate_errors("create", path):
            path.mkdir(parents=True, exist_ok=True)
        self._onnx_schema = None
        # Convert first: a model that cannot be converted fails before anything is written.
        onnx_uri = (
            self._save_onnx(model, path, dict(kwargs.onnx or {}))
            if self._converts_to_onnx(kwargs)
            else None
        )
        model_uri = self._save_model(model, path, dict(kwargs.model or {}))
        sample_uri: Path | None = None
        extra: dict[str, Any] = self._save_extra(model, save_kwargs)
        if self._sample is not None:
            sample_uri = self._sample._save_as(path, SaveName.SampleModelData, None).data_uri
            extra[_SAMPLE_DATA_KEY] = self._sample.interface_type
        save_metadata = ModelInterfaceSaveMetadata(
            model_uri=model_uri,
            data_processor_map=self._save_preprocessor(path, dict(kwargs.preprocessor or {})),
            sample_data_uri=sample_uri,
            onnx_model_uri=onnx_uri,
            extra=extra or None,
            save_kwargs=save_kwargs,
        )
        return self.get_interface_metadata(self._save_extras(path, save_metadata))

    def _save_extras(
        self, path: Path, metadata: ModelInterfaceSaveMetadata
    ) -> ModelInterfaceSaveMetadata:
        """Write the drift profiles, unless ``metadata`` shows they are written (the card
        calls this after a custom ``save`` too)."""
        if metadata.drift_profile_uri_map is not None or self.drift_profile.is_empty():
            return metadata
        uris = save_drift_profiles(self.drift_profile, path)
        return metadata.model_copy(update={"drift_profile_uri_map": uris})

    def _load_extras(self, path: Path, metadata: ModelInterfaceSaveMetadata) -> None:
        """Read the drift profiles the interface lacks (the card calls this after a custom
        ``load`` too)."""
        drift = read_missing_drift_profiles(
            self.drift_profile, path, metadata.drift_profile_uri_map
        )
        for alias, profile in drift.items():
            self.drift_profile.add_profile(alias, profile)

    def _converts_to_onnx(self, save_kwargs: ModelSaveKwargs) -> bool:
        """Whether ``save`` writes the ONNX model: when asked to, for the built-ins."""
        return save_kwargs.save_onnx

    def _save_extra(self, model: Any, save_kwargs: ModelSaveKwargs | None) -> dict[str, Any]:
        """What this interface records in ``save_metadata.extra`` to load the model back
        (e.g. its class or serializer); read again by :meth:`_use_extra`."""
        del model, save_kwargs
        return {}

    def _use_extra(self, extra: dict[str, Any]) -> None:
        """Take in what :meth:`_save_extra` recorded, before the model is loaded."""
        del extra

    def load(
        self,
        path: Path,
        metadata: ModelInterfaceSaveMetadata | ModelInterfaceMetadata,
        load_kwargs: ModelLoadKwargs | None = None,
    ) -> None:
        """Read back what :meth:`save` wrote: model, preprocessor, sample data (and ONNX).

        Nothing on the interface changes unless every file loads.

        Args:
            path: The card's folder (its files already verified by the card).
            metadata: What ``save`` returned, or its ``save_metadata``.
            load_kwargs: ``model`` and ``preprocessor`` dicts are passed to the readers;
                ``load_onnx=True`` also opens the ONNX model. Drift profiles are read back
                into :attr:`drift_profile` (scouter-ml needed, extra ``monitoring``).

        Raises:
            SerializationError: The interface does not implement loading, a file is missing
                or unreadable, or ONNX was requested but not saved.
        """
        path = Path(path)
        if isinstance(metadata, ModelInterfaceMetadata):
            metadata = metadata.save_metadata
        kwargs = load_kwargs or ModelLoadKwargs()
        if kwargs.load_onnx and metadata.onnx_model_uri is None:
            raise SerializationError(
                f"load_onnx=True but this {type(self).__name__} was saved without ONNX "
                "(ModelSaveKwargs(save_onnx=True) stores it)"
            )
        self._use_extra(dict(metadata.extra or {}))
        model = self._load_model(path / metadata.model_uri, dict(kwargs.model or {}))
        self._validate_model(model)
        preprocessor = self._load_preprocessor(
            path, metadata.data_processor_map, dict(kwargs.preprocessor or {})
        )
        sample = self._load_sample_data(path, metadata)
        drift = read_missing_drift_profiles(
            self.drift_profile, path, metadata.drift_profile_uri_map
        )
        onnx_session: OnnxSession | None = None
        if kwargs.load_onnx and metadata.onnx_model_uri is not None:
            onnx_session = self._load_onnx(path / metadata.onnx_model_uri, dict(kwargs.onnx or {}))
        for alias, profile in drift.items():
            self.drift_profile.add_profile(alias, profile)
        self._model = model
        self.preprocessor = preprocessor
        self._sample = sample
        self._onnx_session = onnx_session
        if onnx_session is not None:
            self._onnx_schema = onnx_session.schema

    @classmethod
    def from_metadata(cls, metadata: ModelInterfaceMetadata) -> ModelInterface:
        """Return an empty interface of this class with the recorded task type.

        Custom interfaces whose ``__init__`` needs arguments override this (a
        ``@staticmethod``, as in OpsML 3, works too).

        Args:
            metadata: The interface metadata stored in the card.

        Returns:
            An instance without model, ready for :meth:`load`.

        Raises:
            SerializationError: The metadata was written by another interface class.
        """
        if metadata.interface_type != cls.__name__:
            raise SerializationError(
                f"this card's model was saved by {metadata.interface_type!r}, not "
                f"{cls.__name__!r}; use opsml.interfaces.resolve_interface(metadata), "
                "or pass interface= to load"
            )
        interface = cls()
        if metadata.task_type is not TaskType.Undefined:
            interface.task_type = metadata.task_type
        interface._onnx_schema = metadata.onnx_schema
        return interface

    @final
    def get_interface_metadata(
        self, save_metadata: ModelInterfaceSaveMetadata | ModelInterfaceMetadata
    ) -> ModelInterfaceMetadata:
        """Build the metadata the card stores, from what :meth:`save` returned.

        Not overridable: it records the class name, task, model and data types and the
        schema of the sample data at save time. A ``ModelInterfaceMetadata`` (what OpsML 3's
        custom ``save`` returns) is kept as it is, with this class's name as
        ``interface_type`` and the sample data's schema where it has none.

        Args:
            save_metadata: The return value of :meth:`save`.

        Returns:
            The interface metadata.

        Raises:
            InvalidArgumentError: ``save_metadata`` is neither a
                ``ModelInterfaceSaveMetadata`` nor a ``ModelInterfaceMetadata``.
        """
        if isinstance(save_metadata, ModelInterfaceMetadata):
            update: dict[str, Any] = {"interface_type": self.interface_type}
            if not len(save_metadata.schema):
                update["schema"] = self.schema
            return save_metadata.model_copy(update=update)
        if not isinstance(save_metadata, ModelInterfaceSaveMetadata):
            raise InvalidArgumentError(
                f"{type(self).__name__}.save() must return ModelInterfaceMetadata or "
                f"ModelInterfaceSaveMetadata, got {type_name(save_metadata)}"
            )
        return ModelInterfaceMetadata(
            save_metadata=save_metadata,
            task_type=self.task_type,
            model_type=self.model_type,
            data_type=self.data_type,
            schema=self.schema,
            onnx_schema=self._onnx_schema if save_metadata.onnx_model_uri else None,
            extra_metadata=self._extra_metadata(),
            interface_type=self.interface_type,
            model_specific_metadata=self._model_specific_metadata(),
        )

    def _extra_metadata(self) -> dict[str, Any]:
        """Facts recorded in ``ModelInterfaceMetadata.extra_metadata``."""
        return {}

    def _model_specific_metadata(self) -> dict[str, Any]:
        """Library facts recorded in ``ModelInterfaceMetadata.model_specific_metadata``."""
        return {}

    def _require_model(self) -> Any:
        if self._model is None:
            name = type(self).__name__
            raise SerializationError(
                f"{name} has no model to save; pass it as {name}(model=...) or set .model first"
            )
        return self._model

    def _not_implemented(self, method: str) -> SerializationError:
        return SerializationError(
            f"{type(self).__name__} cannot {method}: a ModelInterface subclass must implement "
            "save(path, save_kwargs=None) -> ModelInterfaceSaveMetadata (write files under "
            "path and return their paths relative to it) and load(path, metadata, "
            "load_kwargs=None) (read them back and set self.model)"
        )

    def _save_model(self, model: Any, path: Path, kwargs: dict[str, Any]) -> str:
        """Write ``model`` under ``path``; return its file name (built-in interfaces only)."""
        raise self._not_implemented("save")

    def _load_model(self, file: Path, kwargs: dict[str, Any]) -> Any:
        """Read the model from ``file`` (built-in interfaces only)."""
        raise self._not_implemented("load")

    def _save_onnx(self, model: Any, path: Path, kwargs: dict[str, Any]) -> str:
        """Convert ``model`` with :meth:`_to_onnx`, write it under ``path``, open a session.

        Sets :attr:`onnx_schema` and :attr:`onnx_session`.

        Args:
            model: The model to convert.
            path: The card's folder.
            kwargs: ``ModelSaveKwargs.onnx``, for the converter.

        Returns:
            The ONNX file name relative to ``path``.

        Raises:
            SerializationError: The interface cannot convert to ONNX, there is no sample
                data to describe the inputs, or the conversion failed.
        """
        if type(self)._to_onnx is ModelInterface._to_onnx:
            raise self._cannot_convert()
        if self._sample is None:
            raise SerializationError(
                f"{type(self).__name__} needs sample_data to convert the model to ONNX (it "
                "gives the inputs' names, types and shapes); pass sample_data=... or save "
                "without save_onnx"
            )
        for module in ("onnx", "onnxruntime"):  # fail before converting, naming the extra
            require(module, ONNX_EXTRA)
        proto = self._to_onnx(model, kwargs)
        uri, schema = write_onnx_model(proto, path)
        self._onnx_session = OnnxSession(proto, schema=schema)
        self._onnx_schema = schema
        return uri

    def _to_onnx(self, model: Any, kwargs: dict[str, Any]) -> onnx.ModelProto:
        """Convert ``model`` to an ONNX ``ModelProto``; interfaces that can, override this.

        The sample data (always present when this is called) gives the input signature.

        Args:
            model: The model to convert.
            kwargs: ``ModelSaveKwargs.onnx``, passed to the converter.

        Returns:
            The ONNX model.

        Raises:
            SerializationError: The model cannot be converted.
        """
        raise self._cannot_convert()

    def _cannot_convert(self) -> SerializationError:
        return SerializationError(
            f"{type(self).__name__} cannot convert to ONNX; save without save_onnx / onnx "
            "arguments (or register an OnnxModel holding your own conversion)"
        )

    def _load_onnx(self, file: Path, kwargs: dict[str, Any]) -> OnnxSession:
        """Open the ONNX model in ``file`` as a session (``kwargs`` go to onnxruntime)."""
        return load_onnx_session(file, kwargs)

    def _save_preprocessor(self, path: Path, kwargs: dict[str, Any]) -> dict[str, DataProcessor]:
        if self.preprocessor is None:
            return {}
        joblib = require("joblib", "sklearn")
        file_name = f"{SaveName.Preprocessor}.{Suffix.Joblib}"
        with translate_errors("write", path / file_name):
            joblib.dump(self.preprocessor, path / file_name, **kwargs)
        name = type(self.preprocessor).__name__
        return {_PREPROCESSOR_KEY: DataProcessor(name=name, uri=file_name)}

    @staticmethod
    def _load_preprocessor(
        path: Path, processors: dict[str, DataProcessor], kwargs: dict[str, Any]
    ) -> Any:
        processor = processors.get(_PREPROCESSOR_KEY)
        if processor is None:
            return None
        joblib = require("joblib", "sklearn")
        with translate_errors("read", path / processor.uri):
            return joblib.load(path / processor.uri, **kwargs)

    @classmethod
    def _load_sample_data(
        cls, path: Path, metadata: ModelInterfaceSaveMetadata
    ) -> DataInterface | None:
        if metadata.sample_data_uri is None:
            return None
        name = (metadata.extra or {}).get(_SAMPLE_DATA_KEY)
        by_name = {interface.__name__: interface for interface in cls._sample_interfaces()}
        if name is None:  # written by OpsML 3, which does not record it: read by the format
            suffix = Path(metadata.sample_data_uri).suffix.lstrip(".")
            fitting = [
                n for n, i in by_name.items() if i._suffix is not None and i._suffix == suffix
            ]
            name = "PandasData" if "PandasData" in fitting else next(iter(fitting), None)
        if name not in by_name:
            raise SerializationError(
                f"cannot load sample data {metadata.sample_data_uri!r}: unknown sample data "
                f"interface {name!r} (expected one of {sorted(by_name)})"
            )
        sample = by_name[name]()
        sample.data = sample._load_from(path / metadata.sample_data_uri, None)
        return sample
