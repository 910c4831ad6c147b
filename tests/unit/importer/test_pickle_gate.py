"""Models whose loading can run code from the MLflow store load only when allowed."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import sklearn  # noqa: F401  (the models imported are scikit-learn's: not in the core run)

from opsml.errors import SerializationError
from opsml.importer._mlflow import _interface


class _Loud:
    """Unpickling this would call ``_boom``: the gate must stop before it."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_boom, ())


def _boom() -> None:
    raise AssertionError("the pickle was loaded")


@pytest.mark.parametrize("form", ["pickle", "cloudpickle"])
def test_a_pickled_sklearn_model_waits_for_allow_pickle(tmp_path: Path, form: str) -> None:
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(_Loud()))
    flavors = {"sklearn": {"pickled_model": "model.pkl", "serialization_format": form}}
    with pytest.raises(SerializationError, match="--allow-pickle"):
        _interface(tmp_path, flavors)
    with pytest.raises(SerializationError, match="the pickle was loaded"):
        _interface(tmp_path, flavors, allow_pickle=True)


def test_a_skops_file_naming_other_types_waits_for_allow_pickle(tmp_path: Path) -> None:
    flavors = {
        "sklearn": {
            "pickled_model": "model.skops",
            "serialization_format": "skops",
            "skops_trusted_types": [
                "sklearn.linear_model._logistic.LogisticRegression",
                "os.system",
            ],
        }
    }
    with pytest.raises(SerializationError, match=r"naming os\.system.*--allow-pickle"):
        _interface(tmp_path, flavors)


def test_a_pyfunc_python_model_waits_for_allow_pickle(tmp_path: Path) -> None:
    flavors = {"python_function": {"python_model": "python_model.pkl"}}
    with pytest.raises(SerializationError, match=r"pyfunc PythonModel.*--allow-pickle"):
        _interface(tmp_path, flavors)
