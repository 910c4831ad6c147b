"""CatBoostModel: a CatBoost model saved in CatBoost's binary format (``model.cbm``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from opsml._compat import require
from opsml.errors import SerializationError, UnsupportedTypeError
from opsml.interfaces._data_base import translate_errors, type_name
from opsml.interfaces._enums import ModelType, TaskType
from opsml.interfaces._kwargs import ModelSaveKwargs, json_safe
from opsml.interfaces._model_base import ModelInterface
from opsml.interfaces._onnx import ONNX_EXTRA
from opsml.interfaces.model._onnx_convert import without_zipmap
from opsml.types import DriftProfileMap, SaveName, Suffix

if TYPE_CHECKING:
    import onnx

__all__ = ["CatBoostModel"]

_EXTRA = "catboost"
_FILE_NAME = f"{SaveName.Model}.{Suffix.Catboost}"
_CLASS_KEY = "catboost_class"
_CLASSES = ("CatBoostClassifier", "CatBoostRegressor", "CatBoostRanker", "CatBoost")
_CLASS_TASKS = {
    "CatBoostClassifier": TaskType.Classification,
    "CatBoostRegressor": TaskType.Regression,
    "CatBoostRanker": TaskType.Ranking,
}
_CLASSIFICATION_LOSSES = frozenset({"Logloss", "CrossEntropy", "MultiClass", "MultiClassOneVsAll"})
_RANKING_LOSS_PREFIXES = ("YetiRank", "PairLogit", "QueryRMSE", "QuerySoftMax", "StochasticRank")


def _catboost() -> ModuleType:
    return require("catboost", _EXTRA)


def _class_name(model: Any) -> str:
    """The CatBoost class ``model`` is rebuilt as (a subclass becomes its CatBoost base)."""
    for cls in type(model).__mro__:
        if cls.__module__.startswith("catboost") and cls.__name__ in _CLASSES:
            return cls.__name__
    return "CatBoost"


def _loss_task_type(model: Any) -> TaskType:
    params = model.get_params()
    loss = params.get("loss_function") or params.get("objective")
    if loss is None and model.is_fitted():
        loss = model.get_all_params().get("loss_function")
    if not isinstance(loss, str):
        return TaskType.Undefined
    name = loss.split(":", maxsplit=1)[0]
    if name in _CLASSIFICATION_LOSSES:
        return TaskType.Classification
    if name.startswith(_RANKING_LOSS_PREFIXES):
        return TaskType.Ranking
    return TaskType.Regression


class CatBoostModel(ModelInterface):
    """A CatBoost model (``CatBoostClassifier``, ``CatBoostRegressor``, ``CatBoostRanker``).

    Saved with ``model.save_model(..., format="cbm")`` as ``model.cbm``
    (``ModelSaveKwargs(model=...)`` goes to ``save_model``); the card records the class,
    and ``load`` rebuilds it and calls ``load_model`` (``ModelLoadKwargs(model=...)`` goes
    there). ``model_type`` is ``Catboost``; without ``task_type`` the task follows the
    class, or the loss function for a plain ``CatBoost``.
    ``ModelSaveKwargs(save_onnx=True)`` uses CatBoost's own ONNX export, which supports
    numeric features only (``onnx`` kwargs go to ``save_model(..., format="onnx")``);
    classifiers output ``label`` and a ``probabilities`` array (no ``ZipMap``).

    Args:
        model: A ``catboost.CatBoost`` model.
        preprocessor: An object applied to inputs before the model (``preprocessor.joblib``).
        sample_data: A pandas ``DataFrame`` or numpy ``ndarray`` the model accepts.
        task_type: The model's task; inferred when omitted.
        drift_profile: Drift profiles by alias (see ``ModelInterface``).

    Raises:
        UnsupportedTypeError: ``model`` is not a CatBoost model.
        MissingDependencyError: catboost is not installed (extra ``catboost``).
    """

    def __init__(
        self,
        model: Any = None,
        preprocessor: Any = None,
        sample_data: Any = None,
        task_type: TaskType | str | None = None,
        drift_profile: DriftProfileMap | dict[str, Any] | None = None,
    ) -> None:
        self._class_name: str | None = None
        super().__init__(
            model=model,
            sample_data=sample_data,
            task_type=task_type,
            preprocessor=preprocessor,
            drift_profile=drift_profile,
        )

    def _validate_model(self, model: Any) -> None:
        if not isinstance(model, _catboost().CatBoost):
            raise UnsupportedTypeError(
                "CatBoostModel expects a catboost model (e.g. CatBoostClassifier), "
                f"got {type_name(model)}"
            )

    @property
    def model_type(self) -> ModelType:
        """``Catboost`` when a model is set, else ``Unknown``."""
        return ModelType.Unknown if self.model is None else ModelType.Catboost

    def _infer_task_type(self, model: Any) -> TaskType:
        task = _CLASS_TASKS.get(_class_name(model))
        return task if task is not None else _loss_task_type(model)

    def _save_extra(self, model: Any, save_kwargs: ModelSaveKwargs | None) -> dict[str, Any]:
        """Record the class to rebuild on load."""
        return {_CLASS_KEY: _class_name(model)}

    def _use_extra(self, extra: dict[str, Any]) -> None:
        """Rebuild the recorded class (only CatBoost's own)."""
        class_name = extra.get(_CLASS_KEY, "CatBoost")
        if class_name not in _CLASSES:
            raise SerializationError(f"cannot load: unknown CatBoost class {class_name!r}")
        self._class_name = class_name

    def _save_model(self, model: Any, path: Path, kwargs: dict[str, Any]) -> str:
        file = path / _FILE_NAME
        with translate_errors("write", file):
            model.save_model(str(file), format="cbm", **kwargs)
        return _FILE_NAME

    def _load_model(self, file: Path, kwargs: dict[str, Any]) -> Any:
        model = getattr(_catboost(), self._class_name or "CatBoost")()
        with translate_errors("read", file):
            model.load_model(str(file), format="cbm", **kwargs)
        return model

    def _to_onnx(self, model: Any, kwargs: dict[str, Any]) -> onnx.ModelProto:
        onnx_module = require("onnx", ONNX_EXTRA)
        with tempfile.TemporaryDirectory(prefix="opsml-catboost-") as tmp:
            file = Path(tmp) / "model.onnx"
            try:
                model.save_model(str(file), format="onnx", **kwargs)
            except Exception as exc:
                raise SerializationError(
                    f"could not convert {type_name(model)} to ONNX: {exc}"
                ) from exc
            with translate_errors("read", file):
                proto: onnx.ModelProto = onnx_module.load(str(file))
        return without_zipmap(proto)

    def _model_specific_metadata(self) -> dict[str, Any]:
        if self.model is None:
            return {}
        model_cls = type(self.model)
        facts: dict[str, Any] = {
            "catboost_version": _catboost().__version__,
            "model_class": f"{model_cls.__module__}.{model_cls.__qualname__}",
            "params": json_safe(self.model.get_params()),
        }
        if self.model.is_fitted():
            facts["tree_count"] = int(self.model.tree_count_)
        return facts
