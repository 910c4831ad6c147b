"""LightningModel: a Lightning trainer's module, saved as a checkpoint (``model.ckpt``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from opsml._compat import require
from opsml.errors import InvalidArgumentError, SerializationError, UnsupportedTypeError
from opsml.interfaces._data_base import translate_errors, type_name
from opsml.interfaces._enums import ModelType, TaskType
from opsml.interfaces._kwargs import ModelLoadKwargs, ModelSaveKwargs
from opsml.interfaces._model_base import ModelInterfaceMetadata, ModelInterfaceSaveMetadata
from opsml.interfaces.model._torch import (
    ARCHITECTURE_KEY,
    MODEL_CLASS_KEY,
    TorchInterface,
    class_path,
    torch_module,
)
from opsml.types import DriftProfileMap, SaveName, Suffix

__all__ = ["LightningModel"]

_EXTRA = "lightning"


def _lightning_classes(name: str) -> tuple[Any, ...]:
    """``name`` (``Trainer`` / ``LightningModule``) from ``lightning`` and, if imported,
    from the standalone ``pytorch_lightning`` package."""
    classes: list[Any] = [getattr(require("lightning.pytorch", _EXTRA), name)]
    standalone = sys.modules.get("pytorch_lightning")
    if standalone is not None:
        classes.append(getattr(standalone, name))
    return tuple(classes)


def _check_pair(trainer: Any, model: Any) -> None:
    """Refuse a model that is not the trainer's module: the checkpoint saves the latter."""
    module = None if trainer is None else trainer.lightning_module
    if model is not None and module is not None and module is not model:
        raise InvalidArgumentError(
            "LightningModel got a model that is not the trainer's module; pass only the "
            "trainer (its lightning_module is what the checkpoint saves)"
        )


class LightningModel(TorchInterface):
    """A Lightning (``lightning.pytorch``) module, saved as the trainer's checkpoint.

    Saving calls ``trainer.save_checkpoint`` into ``model.ckpt`` (weights, hyperparameters
    saved with ``save_hyperparameters()``, optimizer and loop states). Loading calls
    ``YourModule.load_from_checkpoint``, so it needs your ``LightningModule`` class: pass it
    (or an instance) as ``ModelLoadKwargs(model={"model": YourModule})`` (as in OpsML 3), or
    load into an interface holding one (``load_card(...,
    interface=LightningModel(model=YourModule(...)))``). The card records the class
    (``model_specific_metadata["model_class"]``) so the error says which one. The loaded
    module is put in eval mode; the interface then has a model but no trainer.

    Security: the checkpoint is read with ``weights_only=True`` (tensors and plain
    containers only; nothing in the file can run code). If your hyperparameters hold
    other objects, opt in with ``ModelLoadKwargs(model={"weights_only": False})`` for
    checkpoints from writers you trust. Other ``ModelLoadKwargs(model=...)`` keys go to
    ``load_from_checkpoint`` (e.g. ``map_location``); ``ModelSaveKwargs(model=...)`` goes
    to ``trainer.save_checkpoint``.

    As in OpsML 3, :attr:`model` is the module given or loaded: ``None`` for an interface
    built from a trainer alone, whose module (``trainer.lightning_module``) is what is saved.

    ``ModelSaveKwargs(save_onnx=True)`` converts the module like :class:`TorchModel`.

    Args:
        trainer: A ``lightning.Trainer`` that has been fitted with the module.
        preprocessor: An object applied to inputs before the model (``preprocessor.joblib``).
        sample_data: Example input, as for ``TorchModel``.
        task_type: The model's task.
        drift_profile: Drift profiles by alias (see ``ModelInterface``).
        model: The ``LightningModule``; must be the trainer's when both are given.

    Raises:
        InvalidArgumentError: ``trainer`` is not a Lightning ``Trainer``, ``model`` not a
            ``LightningModule`` (or not the trainer's), or the sample data is not acceptable.
        MissingDependencyError: lightning is not installed (extra ``lightning``).
    """

    def __init__(
        self,
        trainer: Any = None,
        preprocessor: Any = None,
        sample_data: Any = None,
        task_type: TaskType | str | None = None,
        model: Any = None,
        drift_profile: DriftProfileMap | dict[str, Any] | None = None,
    ) -> None:
        self._trainer: Any = None
        self._saved_class: str | None = None
        super().__init__(
            model=model,
            sample_data=sample_data,
            task_type=task_type,
            preprocessor=preprocessor,
            drift_profile=drift_profile,
        )
        self.trainer = trainer

    @property
    def trainer(self) -> Any:
        """The ``Trainer`` that saves the checkpoint, or ``None`` (e.g. after loading)."""
        return self._trainer

    @trainer.setter
    def trainer(self, trainer: Any) -> None:
        if trainer is not None:
            if not isinstance(trainer, _lightning_classes("Trainer")):
                raise InvalidArgumentError(
                    f"LightningModel expects a lightning Trainer, got {type_name(trainer)}"
                )
            _check_pair(trainer, self._model)
        self._trainer = trainer

    @property
    def model(self) -> Any:
        """The ``LightningModule`` given or loaded, else ``None`` (see the class docs)."""
        return self._model

    @model.setter
    def model(self, model: Any) -> None:
        if model is not None:
            self._validate_model(model)
            _check_pair(self._trainer, model)
        self._model = model

    def _module(self) -> Any:
        """The module to save: the model, else the trainer's module."""
        if self._model is None and self._trainer is not None:
            return self._trainer.lightning_module
        return self._model

    def _validate_model(self, model: Any) -> None:
        if not isinstance(model, _lightning_classes("LightningModule")):
            raise UnsupportedTypeError(
                f"LightningModel expects a lightning LightningModule, got {type_name(model)}"
            )

    @property
    def model_type(self) -> ModelType:
        """Always ``ModelType.PytorchLightning``."""
        return ModelType.PytorchLightning

    def _require_model(self) -> Any:
        model = self._module()
        if model is None:
            raise SerializationError(
                "LightningModel has no model to save; pass a fitted trainer: "
                "LightningModel(trainer=trainer)"
            )
        return model

    def _save_extra(self, model: Any, save_kwargs: ModelSaveKwargs | None) -> dict[str, Any]:
        """Record the module's class for loading."""
        return {MODEL_CLASS_KEY: class_path(type(model))}

    def _use_extra(self, extra: dict[str, Any]) -> None:
        """Remember the module's class for loading."""
        self._saved_class = extra.get(MODEL_CLASS_KEY)

    def load(
        self,
        path: Path,
        metadata: ModelInterfaceSaveMetadata | ModelInterfaceMetadata,
        load_kwargs: ModelLoadKwargs | None = None,
    ) -> None:
        """Load as the base class does; afterwards the interface holds no trainer."""
        super().load(path, metadata, load_kwargs)
        self._trainer = None

    def _save_model(self, model: Any, path: Path, kwargs: dict[str, Any]) -> str:
        if self._trainer is None:
            raise SerializationError(
                "LightningModel saves a checkpoint through its trainer; pass the fitted "
                "trainer: LightningModel(trainer=trainer)"
            )
        file_name = f"{SaveName.Model}.{Suffix.Ckpt}"
        # weights_only=False: a full checkpoint (Lightning otherwise logs that it defaults).
        checkpoint_kwargs = {"weights_only": False, **kwargs}
        with translate_errors("write", path / file_name):
            self._trainer.save_checkpoint(path / file_name, **checkpoint_kwargs)
        return file_name

    def _load_model(self, file: Path, kwargs: dict[str, Any]) -> Any:
        architecture = kwargs.pop(ARCHITECTURE_KEY, None)
        if architecture is None:
            architecture = self._module()
        if architecture is None:
            saved = self._saved_class or "the model's LightningModule class"
            raise SerializationError(
                f"LightningModel needs the class {saved} to load the checkpoint; pass it: "
                "ModelLoadKwargs(model={'model': MyModule}) or "
                "load_card(..., interface=LightningModel(model=MyModule(...)))"
            )
        module_cls: Any = architecture if isinstance(architecture, type) else type(architecture)
        if not issubclass(module_cls, _lightning_classes("LightningModule")):
            raise InvalidArgumentError(
                "ModelLoadKwargs(model={'model': ...}) must be your LightningModule class "
                f"or an instance of it, got {type_name(architecture)}"
            )
        load_kwargs = {"weights_only": True, **kwargs}
        try:
            with translate_errors("read", file):
                model = module_cls.load_from_checkpoint(file, **load_kwargs)
        except RuntimeError as exc:
            raise SerializationError(
                f"the checkpoint {file.name} (saved from {self._saved_class or 'a module'}) "
                f"does not fit {class_path(module_cls)}: {exc}"
            ) from exc
        return model.eval()

    def _model_specific_metadata(self) -> dict[str, Any]:
        module = self._module()
        if module is None:
            return {}
        return {
            "torch_version": torch_module().__version__,
            "model_class": class_path(type(module)),
            "lightning_version": require("lightning", _EXTRA).__version__,
        }
