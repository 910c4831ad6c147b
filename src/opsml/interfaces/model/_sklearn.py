"""SklearnModel: any scikit-learn estimator or pipeline, saved with joblib (``model.joblib``).

The module-level helpers (pickle/joblib writing, task inference) are shared with the
interfaces of libraries that follow the scikit-learn API (LightGBM's ``LGBMClassifier``...).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from opsml._compat import require
from opsml.errors import UnsupportedTypeError
from opsml.interfaces._data_base import translate_errors, type_name
from opsml.interfaces._enums import ModelType, TaskType
from opsml.interfaces._kwargs import ModelSaveKwargs, json_safe
from opsml.interfaces._model_base import ModelInterface
from opsml.interfaces.model._onnx_convert import sklearn_to_onnx
from opsml.types import DriftProfileMap, SaveName, Suffix

if TYPE_CHECKING:
    import onnx

__all__ = ["SklearnModel"]

_EXTRA = "sklearn"
SERIALIZER_KEY = "model_serializer"
_PICKLE = "pickle"
_JOBLIB = "joblib"
JOBLIB_FILE_NAME = f"{SaveName.Model}.{Suffix.Joblib}"
# Estimator class name -> its ModelType, as OpsML 3 records it; others: SklearnEstimator.
_MODEL_TYPES: dict[str, ModelType] = {
    "Pipeline": ModelType.SklearnPipeline,
    "StackingRegressor": ModelType.StackingRegressor,
    "StackingClassifier": ModelType.StackingClassifier,
    "CalibratedClassifierCV": ModelType.CalibratedClassifier,
    "LGBMRegressor": ModelType.LgbmRegressor,
    "LGBMClassifier": ModelType.LgbmClassifier,
    "XGBRegressor": ModelType.XgbRegressor,
    "XGBClassifier": ModelType.XgbClassifier,
}


def _sklearn_base() -> ModuleType:
    require("sklearn", _EXTRA)
    return require("sklearn.base", _EXTRA)


def dump_estimator(model: Any, path: Path, kwargs: dict[str, Any]) -> str:
    """Write ``model`` as ``<path>/model.joblib``; return the file name.

    Without ``kwargs`` the standard pickle protocol 5 is used (about 3x faster than
    ``joblib.dump``; ``joblib.load`` and ``pickle.load`` both read it); with ``kwargs``,
    ``joblib.dump(model, file, **kwargs)``. :func:`serializer_for` names which, for the card.

    Args:
        model: The estimator.
        path: The card's folder.
        kwargs: ``ModelSaveKwargs.model``.

    Returns:
        ``"model.joblib"``.

    Raises:
        SerializationError: Writing failed.
        MissingDependencyError: joblib is needed and missing (extra ``sklearn``).
    """
    file = path / JOBLIB_FILE_NAME
    with translate_errors("write", file):
        if kwargs:
            require("joblib", _EXTRA).dump(model, file, **kwargs)
        else:
            with file.open("wb") as fh:
                pickle.dump(model, fh, protocol=5)
    return JOBLIB_FILE_NAME


def serializer_for(save_kwargs: ModelSaveKwargs | None) -> str:
    """The serializer :func:`dump_estimator` uses for these save kwargs."""
    return _JOBLIB if save_kwargs is not None and save_kwargs.model else _PICKLE


def load_estimator(file: Path, kwargs: dict[str, Any], serializer: str | None) -> Any:
    """Read back what :func:`dump_estimator` wrote.

    Args:
        file: The ``model.joblib`` file (already verified against the card's manifest).
        kwargs: ``ModelLoadKwargs.model``, for ``joblib.load``.
        serializer: The serializer recorded at save time (``None``: joblib).

    Returns:
        The estimator.

    Raises:
        SerializationError: Reading failed.
    """
    with translate_errors("read", file):
        if serializer == _PICKLE and not kwargs:
            with file.open("rb") as fh:
                # The card verified this file against its manifest before calling load.
                return pickle.load(fh)
        return require("joblib", _EXTRA).load(file, **kwargs)


def sklearn_task_type(model: Any) -> TaskType:
    """The task of a scikit-learn-API estimator, from scikit-learn's own tags.

    Args:
        model: The estimator.

    Returns:
        ``Classification``, ``Regression``, ``Clustering``, ``AnomalyDetection``, or
        ``Undefined``.
    """
    base = _sklearn_base()
    if base.is_classifier(model):
        return TaskType.Classification
    if base.is_regressor(model):
        return TaskType.Regression
    is_clusterer = getattr(base, "is_clusterer", None)  # scikit-learn >= 1.6
    if is_clusterer is not None and is_clusterer(model):
        return TaskType.Clustering
    if base.is_outlier_detector(model):
        return TaskType.AnomalyDetection
    return TaskType.Undefined


class SklearnModel(ModelInterface):
    """A scikit-learn estimator or ``Pipeline``, saved as ``model.joblib``.

    ``model_type`` is ``SklearnPipeline`` for a ``Pipeline``, ``StackingRegressor``,
    ``StackingClassifier``, ``CalibratedClassifier``, ``LgbmRegressor``, ``LgbmClassifier``,
    ``XgbRegressor`` or ``XgbClassifier`` for those classes (as in OpsML 3), and
    ``SklearnEstimator`` otherwise. Without ``task_type`` the task is inferred:
    ``Classification`` for classifiers, ``Regression`` for regressors, ``Clustering`` for
    clusterers, ``AnomalyDetection`` for outlier detectors. The card records the scikit-learn and
    joblib versions, the estimator class and its (shallow) parameters.
    ``ModelSaveKwargs(save_onnx=True)`` converts the model with skl2onnx (extra ``onnx``);
    see ``docs/onnx.md``. Without ``ModelSaveKwargs(model=...)``, ``model.joblib`` is
    written with the standard pickle protocol 5 (about 3x faster than ``joblib.dump``;
    ``joblib.load`` and ``pickle.load`` both read it) and read back with the C unpickler. With
    ``ModelSaveKwargs(model=...)`` the kwargs go to ``joblib.dump`` (e.g.
    ``{"compress": 3}``), and ``ModelLoadKwargs(model=...)`` to ``joblib.load``.

    Security: joblib files are pickles, and loading a pickle runs code chosen by whoever
    wrote it. A card verifies every file's SHA-256 against its manifest before ``load`` is
    called, which guards against corruption and tampering in storage, not against a
    malicious author: only load models from registries whose writers you trust.

    Args:
        model: A fitted or unfitted ``sklearn.base.BaseEstimator`` (pipelines included).
        preprocessor: An object applied to inputs before the model (``preprocessor.joblib``).
        sample_data: A pandas ``DataFrame`` or numpy ``ndarray`` the model accepts.
        task_type: The model's task; inferred from the estimator when omitted.
        drift_profile: Drift profiles by alias (see ``ModelInterface``).

    Raises:
        UnsupportedTypeError: ``model`` is not a scikit-learn estimator.
        MissingDependencyError: scikit-learn or joblib is not installed (extra ``sklearn``).
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
        if not isinstance(model, _sklearn_base().BaseEstimator):
            raise UnsupportedTypeError(
                "SklearnModel expects a scikit-learn estimator (sklearn.base.BaseEstimator), "
                f"got {type_name(model)}"
            )

    @property
    def model_type(self) -> ModelType:
        """The kind of estimator (see the class docs); ``Unknown`` without a model."""
        if self.model is None:
            return ModelType.Unknown
        return _MODEL_TYPES.get(type(self.model).__name__, ModelType.SklearnEstimator)

    def _infer_task_type(self, model: Any) -> TaskType:
        return sklearn_task_type(model)

    def _save_extra(self, model: Any, save_kwargs: ModelSaveKwargs | None) -> dict[str, Any]:
        """Record which serializer wrote ``model.joblib``."""
        return {SERIALIZER_KEY: serializer_for(save_kwargs)}

    def _use_extra(self, extra: dict[str, Any]) -> None:
        """Read ``model.joblib`` with the reader matching the recorded serializer."""
        self._serializer = extra.get(SERIALIZER_KEY)

    def _save_model(self, model: Any, path: Path, kwargs: dict[str, Any]) -> str:
        return dump_estimator(model, path, kwargs)

    def _load_model(self, file: Path, kwargs: dict[str, Any]) -> Any:
        _sklearn_base()  # unpickling needs scikit-learn: fail early naming the extra
        return load_estimator(file, kwargs, self._serializer)

    def _to_onnx(self, model: Any, kwargs: dict[str, Any]) -> onnx.ModelProto:
        return sklearn_to_onnx(model, self._sample_raw(), kwargs)

    def _model_specific_metadata(self) -> dict[str, Any]:
        if self.model is None:
            return {}
        model_cls = type(self.model)
        return {
            "sklearn_version": require("sklearn", _EXTRA).__version__,
            "joblib_version": require("joblib", _EXTRA).__version__,
            "model_class": f"{model_cls.__module__}.{model_cls.__qualname__}",
            "params": json_safe(self.model.get_params(deep=False)),
        }
