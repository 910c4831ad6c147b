"""MlflowPyfuncModel: a model in MLflow's pyfunc format, kept as MLflow wrote it.

``opsml import mlflow`` makes one for each imported MLflow model version whose flavor has
no opsml interface of its own (a ``mlflow.pyfunc.PythonModel``): the card holds the MLflow
model folder (``MLmodel``, ``python_model.pkl``, its artifacts, ``requirements.txt``...)
under ``mlflow-model/``, and ``card.load()`` gives back a :class:`PyfuncModel` whose
``predict`` calls the user's ``PythonModel`` as MLflow's ``pyfunc`` does.

The mlflow package is not needed: the pickled ``PythonModel`` refers to MLflow's base
classes by name, and these few names are stood in for while it is unpickled; with mlflow
installed, its own classes are used. A model that needs more of mlflow than that raises
:class:`~opsml.errors.SerializationError` naming what it needs.
"""

from __future__ import annotations

import bz2
import gzip
import inspect
import lzma
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from opsml.errors import SerializationError, UnsupportedTypeError
from opsml.interfaces._data_base import type_name
from opsml.interfaces._enums import ModelType
from opsml.interfaces._kwargs import ModelSaveKwargs
from opsml.interfaces._model_base import ModelInterface
from opsml.storage import safe_relpath

__all__ = ["MODEL_FOLDER", "MlflowPyfuncModel", "PyfuncModel", "read_mlmodel"]

MODEL_FOLDER = "mlflow-model"
"""Where the card keeps the MLflow model folder."""
_PYFUNC = "python_function"
_OPENERS: dict[str, Callable[[Path, str], Any]] = {
    "gzip": gzip.open,
    "lzma": lzma.open,
    "bz2": bz2.open,
}


def read_mlmodel(folder: Path) -> dict[str, Any]:
    """The ``MLmodel`` file of an MLflow model folder, as a dict.

    Raises:
        SerializationError: The folder has no readable ``MLmodel``.
    """
    file = Path(folder) / "MLmodel"
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SerializationError(f"cannot read the MLflow model file {file}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
        raise SerializationError(f"{file} is not an MLflow MLmodel file (it has no flavors)")
    return data


class _PythonModel:
    """Stands in for ``mlflow.pyfunc.PythonModel`` when mlflow is not installed."""

    def load_context(self, context: Any) -> None:
        """MLflow's default: nothing to load."""
        del context


class _Placeholder:
    """Stands in for MLflow's bookkeeping objects pickled with a model (type hints)."""


class PyfuncContext:
    """What a ``PythonModel``'s ``load_context`` and ``predict`` get as ``context``.

    Attributes:
        artifacts: The model's artifacts by name, as local file paths.
        model_config: The model's configuration (``model_config`` of ``log_model``).
    """

    def __init__(self, artifacts: dict[str, str], model_config: dict[str, Any]) -> None:
        self.artifacts = artifacts
        self.model_config = model_config


_STAND_INS: dict[tuple[str, str], type] = {
    ("mlflow.pyfunc.model", "PythonModel"): _PythonModel,
    ("mlflow.pyfunc", "PythonModel"): _PythonModel,
    ("mlflow.pyfunc.model", "PythonModelContext"): PyfuncContext,
    ("mlflow.pyfunc", "PythonModelContext"): PyfuncContext,
    ("mlflow.models.signature", "_TypeHints"): _Placeholder,
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return super().find_class(module, name)
        except ModuleNotFoundError:
            if module.partition(".")[0] != "mlflow":
                raise
            stand_in = _STAND_INS.get((module, name))
            if stand_in is None:
                raise SerializationError(
                    f"this pyfunc model needs mlflow's {module}.{name} to load; install "
                    "mlflow to load it"
                ) from None
            return stand_in


class PyfuncModel:
    """An MLflow pyfunc model loaded without mlflow: ``predict`` as ``mlflow.pyfunc``'s.

    Attributes:
        path: The MLflow model folder (holding ``MLmodel``).
        mlmodel: The ``MLmodel`` file's content.
        python_model: The user's ``PythonModel`` object, its context loaded.
    """

    def __init__(self, path: Path, mlmodel: dict[str, Any], python_model: Any, context: Any):
        self.path = path
        self.mlmodel = mlmodel
        self.python_model = python_model
        self.context = context

    @classmethod
    def load(cls, folder: Path | str) -> PyfuncModel:
        """Load the pickled ``PythonModel`` of an MLflow model folder and call its
        ``load_context``.

        Loading a pickle runs code chosen by whoever wrote it: load only models you trust.

        Args:
            folder: The MLflow model folder.

        Raises:
            SerializationError: No pyfunc ``python_model`` pickle in the folder (e.g. a model
                logged from code), or it cannot be unpickled or its context loaded.
        """
        path = Path(folder)
        mlmodel = read_mlmodel(path)
        conf = mlmodel["flavors"].get(_PYFUNC)
        pickled = conf.get("python_model") if isinstance(conf, dict) else None
        if not isinstance(pickled, str) or not pickled.endswith(".pkl"):
            raise SerializationError(
                f"{path} holds no pickled pyfunc python_model (flavors: "
                f"{', '.join(mlmodel['flavors'])})"
            )
        assert isinstance(conf, dict)
        try:
            file = path / safe_relpath(pickled)
            opener = _OPENERS.get(str(conf.get("compression") or ""))
            with opener(file, "rb") if opener else file.open("rb") as fh:
                python_model = _Unpickler(fh).load()
            artifacts = {
                name: str(path / safe_relpath(str(info["path"])))
                for name, info in (conf.get("artifacts") or {}).items()
            }
            context = PyfuncContext(artifacts, dict(conf.get("model_config") or {}))
            python_model.load_context(context)
        except SerializationError:
            raise
        except Exception as exc:  # whatever the user's unpickled code raises
            raise SerializationError(
                f"cannot load the pyfunc model in {path}: {type(exc).__name__}: {exc}"
            ) from exc
        return cls(path, mlmodel, python_model, context)

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        """Predict as ``mlflow.pyfunc.load_model(...).predict`` does: the ``PythonModel``'s
        ``predict`` with the context when it takes one, and ``params`` when it takes them."""
        taken = inspect.signature(self.python_model.predict).parameters
        kwargs = {"params": params} if "params" in taken else {}
        if "context" in taken:
            return self.python_model.predict(self.context, model_input, **kwargs)
        return self.python_model.predict(model_input, **kwargs)

    def __repr__(self) -> str:
        return f"PyfuncModel({type(self.python_model).__name__}, path={str(self.path)!r})"


class MlflowPyfuncModel(ModelInterface):
    """A model in MLflow's pyfunc format: the MLflow model folder, loaded without mlflow.

    ``model`` is a :class:`PyfuncModel` (``PyfuncModel.load(folder)``); saving copies its
    folder into the card as ``mlflow-model/``, loading unpickles it again. The card records
    the MLflow flavor and version. Made by ``opsml import mlflow`` (docs/import-mlflow.md).

    Security: the model is a pickle; loading it runs code chosen by whoever logged it.

    Args:
        model: A :class:`PyfuncModel`.

    Raises:
        UnsupportedTypeError: ``model`` is not a :class:`PyfuncModel`.
    """

    def _validate_model(self, model: Any) -> None:
        if not isinstance(model, PyfuncModel):
            raise UnsupportedTypeError(
                f"MlflowPyfuncModel expects a PyfuncModel, got {type_name(model)}"
            )

    @property
    def model_type(self) -> ModelType:
        """``Unknown``: a pyfunc model's library is the user's code."""
        return ModelType.Unknown

    def _save_model(self, model: Any, path: Path, kwargs: dict[str, Any]) -> str:
        target = path / MODEL_FOLDER
        try:
            shutil.copytree(model.path, target, symlinks=False, dirs_exist_ok=False)
        except OSError as exc:
            raise SerializationError(f"cannot copy the MLflow model folder: {exc}") from exc
        return MODEL_FOLDER

    def _load_model(self, file: Path, kwargs: dict[str, Any]) -> Any:
        return PyfuncModel.load(file)

    def _save_extra(self, model: Any, save_kwargs: ModelSaveKwargs | None) -> dict[str, Any]:
        return {"mlflow_flavor": _PYFUNC}

    def _model_specific_metadata(self) -> dict[str, Any]:
        if self.model is None:
            return {}
        mlmodel = self.model.mlmodel
        return {
            "mlflow_version": mlmodel.get("mlflow_version"),
            "mlflow_model_id": mlmodel.get("model_id"),
            "flavors": sorted(mlmodel["flavors"]),
            "python_model_class": type(self.model.python_model).__name__,
        }
