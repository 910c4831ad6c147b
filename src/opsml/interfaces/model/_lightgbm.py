"""LightGBMModel: a LightGBM ``Booster`` (``model.txt``) or scikit-learn-API model."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from opsml._compat import require
from opsml.errors import UnsupportedTypeError
from opsml.interfaces._data_base import translate_errors, type_name
from opsml.interfaces._enums import ModelType, TaskType
from opsml.interfaces._kwargs import ModelSaveKwargs, json_safe
from opsml.interfaces._model_base import ModelInterface
from opsml.interfaces.model._onnx_convert import lightgbm_booster_to_onnx, sklearn_to_onnx
from opsml.interfaces.model._sklearn import (
    SERIALIZER_KEY,
    dump_estimator,
    load_estimator,
    serializer_for,
    sklearn_task_type,
)
from opsml.types import DriftProfileMap, SaveName, Suffix

if TYPE_CHECKING:
    import onnx

__all__ = ["LightGBMModel"]

_EXTRA = "lightgbm"
_BOOSTER_FILE_NAME = f"{SaveName.Model}.{Suffix.Text}"
_CLASSIFICATION_OBJECTIVES = frozenset({"binary", "multiclass", "multiclassova"})
_RANKING_OBJECTIVES = frozenset({"lambdarank", "rank_xendcg"})


def _lightgbm() -> ModuleType:
    return require("lightgbm", _EXTRA)


def _objective(booster: Any) -> str:
    """The booster's objective name (``"binary"``, ``"regression"``...), or ``""``."""
    objective = booster.params.get("objective", "")
    return str(objective).split(" ", maxsplit=1)[0]


def _booster_task_type(booster: Any) -> TaskType:
    objective = _objective(booster)
    if objective in _CLASSIFICATION_OBJECTIVES:
        return TaskType.Classification
    if objective in _RANKING_OBJECTIVES:
        return TaskType.Ranking
    if objective:
        return TaskType.Regression
    return TaskType.Undefined


class LightGBMModel(ModelInterface):
    """A LightGBM model: a ``lightgbm.Booster`` or a scikit-learn-API ``LGBMModel``.

    A ``Booster`` is saved with ``booster.save_model`` as ``model.txt`` (LightGBM's text
    format; ``ModelSaveKwargs(model=...)`` goes to ``save_model``) and read back with
    ``lightgbm.Booster(model_file=...)`` (``ModelLoadKwargs(model=...)`` goes there).
    ``LGBMClassifier`` / ``LGBMRegressor`` / ``LGBMRanker`` are saved like a
    :class:`~opsml.model.SklearnModel`, as ``model.joblib``.

    ``model_type`` is ``LgbmBooster``, ``LgbmClassifier`` or ``LgbmRegressor``. Without
    ``task_type`` the task is inferred: from the booster's objective (``binary``,
    ``multiclass`` → ``Classification``; ``lambdarank`` → ``Ranking``; other objectives →
    ``Regression``), or from the estimator class. ``ModelSaveKwargs(save_onnx=True)``
    converts with onnxmltools (extra ``onnx``).

    Args:
        model: A ``lightgbm.Booster`` or ``lightgbm.LGBMModel``.
        preprocessor: An object applied to inputs before the model (``preprocessor.joblib``).
        sample_data: A pandas ``DataFrame`` or numpy ``ndarray`` the model accepts.
        task_type: The model's task; inferred when omitted.
        drift_profile: Drift profiles by alias (see ``ModelInterface``).

    Raises:
        UnsupportedTypeError: ``model`` is not a LightGBM model.
        MissingDependencyError: lightgbm is not installed (extra ``lightgbm``).
    """

    def __init__(
        self,
        model: Any = None,
        preprocessor: Any = None,
        sample_data: Any = None,
        task_type: TaskType | str | None = None,
        drift_profile: DriftProfileMap | dict[str, Any] | None = None,
    ) -> None:
        self._serializer: str | None = None
        super().__init__(
            model=model,
            sample_data=sample_data,
            task_type=task_type,
            preprocessor=preprocessor,
            drift_profile=drift_profile,
        )

    def _validate_model(self, model: Any) -> None:
        lightgbm = _lightgbm()
        if not isinstance(model, lightgbm.Booster | lightgbm.LGBMModel):
            raise UnsupportedTypeError(
                "LightGBMModel expects a lightgbm.Booster or a scikit-learn-API "
                f"lightgbm.LGBMModel (e.g. LGBMClassifier), got {type_name(model)}"
            )

    def _is_booster(self, model: Any) -> bool:
        return isinstance(model, _lightgbm().Booster)

    @property
    def model_type(self) -> ModelType:
        """``LgbmBooster``, ``LgbmClassifier`` or ``LgbmRegressor``; else ``Unknown``."""
        if self.model is None:
            return ModelType.Unknown
        lightgbm = _lightgbm()
        if isinstance(self.model, lightgbm.Booster):
            return ModelType.LgbmBooster
        if isinstance(self.model, lightgbm.LGBMClassifier):
            return ModelType.LgbmClassifier
        if isinstance(self.model, lightgbm.LGBMRegressor):
            return ModelType.LgbmRegressor
        return ModelType.Unknown

    def _infer_task_type(self, model: Any) -> TaskType:
        if self._is_booster(model):
            return _booster_task_type(model)
        if isinstance(model, _lightgbm().LGBMRanker):
            return TaskType.Ranking
        return sklearn_task_type(model)

    def _save_extra(self, model: Any, save_kwargs: ModelSaveKwargs | None) -> dict[str, Any]:
        """A scikit-learn-API model records its serializer (a Booster is ``model.txt``)."""
        if self._is_booster(model):
            return {}
        return {SERIALIZER_KEY: serializer_for(save_kwargs)}

    def _use_extra(self, extra: dict[str, Any]) -> None:
        """``model.txt`` loads as a Booster, else with the recorded serializer."""
        self._serializer = extra.get(SERIALIZER_KEY)

    def _save_model(self, model: Any, path: Path, kwargs: dict[str, Any]) -> str:
        if not self._is_booster(model):
            return dump_estimator(model, path, kwargs)
        file = path / _BOOSTER_FILE_NAME
        with translate_errors("write", file):
            model.save_model(str(file), **kwargs)
        return _BOOSTER_FILE_NAME

    def _load_model(self, file: Path, kwargs: dict[str, Any]) -> Any:
        lightgbm = _lightgbm()
        if file.name != _BOOSTER_FILE_NAME:
            require("sklearn", "sklearn")  # unpickling needs it: fail early naming the extra
            return load_estimator(file, kwargs, self._serializer)
        with translate_errors("read", file):
            return lightgbm.Booster(model_file=str(file), **kwargs)

    def _to_onnx(self, model: Any, kwargs: dict[str, Any]) -> onnx.ModelProto:
        if not self._is_booster(model):
            return sklearn_to_onnx(model, self._sample_raw(), kwargs)
        classifier = _booster_task_type(model) is TaskType.Classification
        return lightgbm_booster_to_onnx(model, self._sample_raw(), classifier, kwargs)

    def _model_specific_metadata(self) -> dict[str, Any]:
        if self.model is None:
            return {}
        model_cls = type(self.model)
        facts: dict[str, Any] = {
            "lightgbm_version": _lightgbm().__version__,
            "model_class": f"{model_cls.__module__}.{model_cls.__qualname__}",
        }
        if self._is_booster(self.model):
            facts["params"] = json_safe(self.model.params)
            facts["num_trees"] = int(self.model.num_trees())
        else:
            facts["params"] = json_safe(self.model.get_params(deep=False))
        return facts
