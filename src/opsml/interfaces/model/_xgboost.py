"""XGBoostModel: an XGBoost ``Booster`` or scikit-learn-API model, saved as ``model.json``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from opsml._compat import require
from opsml.errors import InvalidArgumentError, SerializationError, UnsupportedTypeError
from opsml.interfaces._data_base import DataInterface, translate_errors, type_name
from opsml.interfaces._enums import DataType, ModelType, TaskType
from opsml.interfaces._kwargs import ModelSaveKwargs, json_safe
from opsml.interfaces._model_base import ModelInterface, sample_data_interfaces
from opsml.interfaces._schema import Feature, FeatureSchema
from opsml.interfaces.model._onnx_convert import sklearn_to_onnx, xgboost_booster_to_onnx
from opsml.interfaces.model._sklearn import sklearn_task_type
from opsml.types import DriftProfileMap, SaveName, Suffix

if TYPE_CHECKING:
    import onnx

__all__ = ["DMatrixData", "XGBoostModel"]

_EXTRA = "xgboost"
_FILE_NAME = f"{SaveName.Model}.{Suffix.Json}"
_CLASS_KEY = "xgboost_class"
_BOOSTER = "Booster"
# The classes a model can be rebuilt as (a user's subclass is rebuilt as its xgboost base).
_SKLEARN_CLASSES = (
    "XGBClassifier",
    "XGBRegressor",
    "XGBRanker",
    "XGBRFClassifier",
    "XGBRFRegressor",
)


def _xgboost() -> ModuleType:
    return require("xgboost", _EXTRA)


class DMatrixData(DataInterface):
    """An ``xgboost.DMatrix``: the sample data of an ``XGBoostModel`` booster.

    Saved as ``sample-data.dmatrix`` with ``DMatrix.save_binary`` (XGBoost's own binary
    format, no pickles) and read back with ``xgboost.DMatrix(path)``. Not a public data
    interface: ``XGBoostModel`` picks it for a ``DMatrix`` and hands out the ``DMatrix``
    itself as ``sample_data`` (as OpsML 3 does); ONNX conversion reads its values.

    Args:
        data: An ``xgboost.DMatrix``.

    Raises:
        UnsupportedTypeError: ``data`` is not a ``DMatrix``.
    """

    data_type: ClassVar[DataType] = DataType.DMatrix
    _suffix: ClassVar[Suffix | None] = Suffix.Dmatrix
    _sample_as_raw: ClassVar[bool] = True

    def __init__(self, data: Any = None) -> None:
        super().__init__(data=data)

    @staticmethod
    def _accepts(data: Any) -> bool:
        xgboost = sys.modules.get("xgboost")  # not imported: data cannot be a DMatrix
        return xgboost is not None and isinstance(data, xgboost.DMatrix)

    def _validate_data(self, data: Any) -> None:
        if not self._accepts(data):
            raise UnsupportedTypeError(
                f"DMatrixData expects an xgboost DMatrix, got {type_name(data)}"
            )

    @classmethod
    def _first_rows(cls, data: Any) -> Any:
        return data.slice([0])

    def _generate_schema(self) -> FeatureSchema:
        """One feature per column, named as the DMatrix names them (``f<i>`` otherwise)."""
        data = self._data
        if data is None:
            return FeatureSchema()
        names = data.feature_names or [f"f{i}" for i in range(data.num_col())]
        types = data.feature_types or ["float"] * len(names)
        return FeatureSchema(
            {
                name: Feature(feature_type=str(t), shape=[1])
                for name, t in zip(names, types, strict=True)
            }
        )

    def _write(self, data: Any, file: Path, kwargs: dict[str, Any]) -> None:
        with translate_errors("write", file):
            data.save_binary(str(file), **{"silent": True, **kwargs})

    def _read(self, file: Path, kwargs: dict[str, Any]) -> Any:
        xgboost = _xgboost()
        with translate_errors("read", file):
            return xgboost.DMatrix(str(file), **kwargs)


def _booster_task_type(booster: Any) -> TaskType:
    objective = str(json.loads(booster.save_config())["learner"]["objective"]["name"])
    kind = objective.split(":", maxsplit=1)[0]
    if kind in {"binary", "multi"}:
        return TaskType.Classification
    if kind == "rank":
        return TaskType.Ranking
    if kind in {"reg", "count", "survival"}:
        return TaskType.Regression
    return TaskType.Undefined


def _class_name(model: Any) -> str:
    """The name recorded to rebuild ``model``: ``Booster`` or its scikit-learn-API class."""
    xgboost = _xgboost()
    if isinstance(model, xgboost.Booster):
        return _BOOSTER
    for cls in type(model).__mro__:
        if cls.__module__.startswith("xgboost") and cls.__name__ in _SKLEARN_CLASSES:
            return cls.__name__
    raise SerializationError(
        f"XGBoostModel cannot save {type_name(model)}: only Booster and "
        f"{', '.join(_SKLEARN_CLASSES)} (and their subclasses) can be rebuilt"
    )


class XGBoostModel(ModelInterface):
    """An XGBoost model: an ``xgboost.Booster`` or a scikit-learn-API ``XGBModel``.

    Both are saved with XGBoost's own ``save_model`` as ``model.json`` (portable across
    XGBoost versions and no pickle); the card records which class to rebuild
    (``Booster``, ``XGBClassifier``, ``XGBRegressor``, ``XGBRanker``, ``XGBRFClassifier``,
    ``XGBRFRegressor``), so ``load`` returns the same wrapper with its classes and
    parameters. ``ModelSaveKwargs(model=...)`` goes to ``save_model``;
    ``ModelLoadKwargs(model=...)`` to the constructor (``xgboost.Booster(**kwargs)``, or
    e.g. ``XGBClassifier(**kwargs)``) before ``load_model``. A subclass of an XGBoost
    estimator is rebuilt as that XGBoost class.

    ``model_type`` is ``XgbBooster``, ``XgbClassifier`` or ``XgbRegressor``. Without
    ``task_type`` the task is inferred from the objective (``binary:*``, ``multi:*`` →
    ``Classification``; ``reg:*``, ``count:*``, ``survival:*`` → ``Regression``;
    ``rank:*`` → ``Ranking``). ``ModelSaveKwargs(save_onnx=True)`` converts with
    onnxmltools (extra ``onnx``).

    Args:
        model: An ``xgboost.Booster`` or ``xgboost.XGBModel``.
        preprocessor: An object applied to inputs before the model (``preprocessor.joblib``).
        sample_data: Example input, as for every model interface, or an ``xgboost.DMatrix``
            (its first row is kept, saved as ``sample-data.dmatrix``).
        task_type: The model's task; inferred when omitted.
        drift_profile: Drift profiles by alias (see ``ModelInterface``).

    Raises:
        UnsupportedTypeError: ``model`` is not an XGBoost model.
        MissingDependencyError: xgboost is not installed (extra ``xgboost``).
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
        xgboost = _xgboost()
        if not isinstance(model, xgboost.Booster | xgboost.XGBModel):
            raise InvalidArgumentError(
                "XGBoostModel expects an xgboost.Booster or a scikit-learn-API "
                f"xgboost.XGBModel (e.g. XGBClassifier), got {type_name(model)}"
            )

    @property
    def model_type(self) -> ModelType:
        """``XgbBooster``, ``XgbClassifier`` or ``XgbRegressor``; else ``Unknown``."""
        if self.model is None:
            return ModelType.Unknown
        xgboost = _xgboost()
        if isinstance(self.model, xgboost.Booster):
            return ModelType.XgbBooster
        if isinstance(self.model, xgboost.XGBClassifier):
            return ModelType.XgbClassifier
        if isinstance(self.model, xgboost.XGBRegressor):
            return ModelType.XgbRegressor
        return ModelType.Unknown

    def _infer_task_type(self, model: Any) -> TaskType:
        xgboost = _xgboost()
        if isinstance(model, xgboost.Booster):
            return _booster_task_type(model)
        if isinstance(model, xgboost.XGBRanker):
            return TaskType.Ranking
        return sklearn_task_type(model)

    def _save_extra(self, model: Any, save_kwargs: ModelSaveKwargs | None) -> dict[str, Any]:
        """Record the class to rebuild on load."""
        return {_CLASS_KEY: _class_name(model)}

    def _use_extra(self, extra: dict[str, Any]) -> None:
        """Rebuild the recorded class (only XGBoost's own)."""
        class_name = extra.get(_CLASS_KEY, _BOOSTER)
        if class_name != _BOOSTER and class_name not in _SKLEARN_CLASSES:
            raise SerializationError(f"cannot load: unknown XGBoost class {class_name!r}")
        self._class_name = class_name

    def _save_model(self, model: Any, path: Path, kwargs: dict[str, Any]) -> str:
        file = path / _FILE_NAME
        with translate_errors("write", file):
            model.save_model(str(file), **kwargs)
        return _FILE_NAME

    def _load_model(self, file: Path, kwargs: dict[str, Any]) -> Any:
        xgboost = _xgboost()
        class_name = self._class_name or _BOOSTER
        with translate_errors("read", file):
            if class_name == _BOOSTER:
                return xgboost.Booster(model_file=str(file), **kwargs)
            require("sklearn", "sklearn")  # the wrappers need scikit-learn
            model = getattr(xgboost, class_name)(**kwargs)
            model.load_model(str(file))
            return model

    @classmethod
    def _sample_interfaces(cls) -> tuple[type[DataInterface], ...]:
        return (*sample_data_interfaces(), DMatrixData)

    def _to_onnx(self, model: Any, kwargs: dict[str, Any]) -> onnx.ModelProto:
        sample = self._sample_raw()
        if DMatrixData._accepts(sample):
            sample = sample.get_data().toarray()
        if isinstance(model, _xgboost().Booster):
            return xgboost_booster_to_onnx(model, sample, kwargs)
        return sklearn_to_onnx(model, sample, kwargs)

    def _model_specific_metadata(self) -> dict[str, Any]:
        if self.model is None:
            return {}
        xgboost = _xgboost()
        model_cls = type(self.model)
        facts: dict[str, Any] = {
            "xgboost_version": xgboost.__version__,
            "model_class": f"{model_cls.__module__}.{model_cls.__qualname__}",
        }
        booster = self.model if isinstance(self.model, xgboost.Booster) else None
        if booster is None:
            facts["params"] = json_safe(self.model.get_params(deep=False))
            if getattr(self.model, "_Booster", None) is not None:  # fitted
                booster = self.model.get_booster()
        if booster is not None:
            facts["num_boosted_rounds"] = int(booster.num_boosted_rounds())
        return facts
