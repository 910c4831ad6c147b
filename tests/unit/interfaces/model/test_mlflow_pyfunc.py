"""MlflowPyfuncModel: an MLflow pyfunc ``PythonModel`` folder kept whole in a ModelCard and
predicting without mlflow. The pickles here are made as MLflow makes them (cloudpickle, the
class by value, its base ``mlflow.pyfunc.PythonModel`` by name) against a stand-in ``mlflow``
package that only the pickling process sees. (Real MLflow models:
tests/integration/test_import_mlflow.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from opsml import CardRegistry, ModelCard, RegistryType
from opsml.errors import SerializationError, UnsupportedTypeError
from opsml.interfaces.model._mlflow import MlflowPyfuncModel, PyfuncModel

pytestmark = pytest.mark.needs("cloudpickle")

_FAKE_MLFLOW = {
    "mlflow/__init__.py": "",
    "mlflow/pyfunc/__init__.py": "from mlflow.pyfunc.model import PythonModel\n",
    "mlflow/pyfunc/model.py": "class PythonModel:\n    def load_context(self, context):\n"
    "        pass\n",
    "mlflow/tracking.py": "class Needed:\n    pass\n",
}
_PICKLE = """
import sys
import cloudpickle
from mlflow.pyfunc import PythonModel
from mlflow.tracking import Needed


class Scaler(PythonModel):
    def load_context(self, context):
        with open(context.artifacts["factor"]) as fh:
            self.factor = float(fh.read())

    def predict(self, context, model_input, params=None):
        extra = (params or {}).get("plus", 0)
        return [x * self.factor + extra for x in model_input]


class Echo(PythonModel):
    def predict(self, model_input):
        return list(model_input)


class Greedy(PythonModel):
    def __init__(self):
        self.client = Needed()

    def predict(self, context, model_input):
        return model_input


for name, model in (("scaler", Scaler()), ("echo", Echo()), ("greedy", Greedy())):
    with open(f"{sys.argv[1]}/{name}.pkl", "wb") as fh:
        cloudpickle.dump(model, fh)
"""


def _mlflow_model(folder: Path, pickled: Path, artifacts: dict[str, str]) -> Path:
    folder.mkdir()
    (folder / "python_model.pkl").write_bytes(pickled.read_bytes())
    flavor: dict[str, object] = {
        "loader_module": "mlflow.pyfunc.model",
        "python_model": "python_model.pkl",
    }
    if artifacts:
        (folder / "artifacts").mkdir()
        for name, text in artifacts.items():
            (folder / "artifacts" / name).write_text(text)
        flavor["artifacts"] = {name: {"path": f"artifacts/{name}"} for name in artifacts}
    mlmodel = {"flavors": {"python_function": flavor}, "mlflow_version": "3.17.2"}
    (folder / "MLmodel").write_text(json.dumps(mlmodel))  # JSON is YAML
    return folder


@pytest.fixture(scope="module")
def pickles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pyfunc")
    fake = root / "fake"
    for rel, text in _FAKE_MLFLOW.items():
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake / rel).write_text(text)
    (root / "make.py").write_text(_PICKLE)
    subprocess.run(
        [sys.executable, str(root / "make.py"), str(root)],
        env={"PYTHONPATH": str(fake)},
        check=True,
        capture_output=True,
    )
    return root


def test_a_pickled_python_model_predicts_as_mlflow_pyfunc_without_mlflow(
    pickles: Path, tmp_path: Path
) -> None:
    scaler = PyfuncModel.load(
        _mlflow_model(tmp_path / "scaler", pickles / "scaler.pkl", {"factor": "3"})
    )
    assert scaler.predict([1.0, 2.0]) == [3.0, 6.0]  # load_context read the artifact
    assert scaler.predict([1.0], params={"plus": 1}) == [4.0]
    echo = PyfuncModel.load(_mlflow_model(tmp_path / "echo", pickles / "echo.pkl", {}))
    assert echo.predict((5, 6), params={"ignored": True}) == [5, 6]  # no context, no params

    greedy = _mlflow_model(tmp_path / "greedy", pickles / "greedy.pkl", {})
    with pytest.raises(SerializationError, match=r"needs mlflow's mlflow\.tracking\.Needed"):
        PyfuncModel.load(greedy)
    (greedy / "MLmodel").write_text('{"flavors": {"python_function": {"model_code_path": "m.py"}}}')
    with pytest.raises(SerializationError, match="holds no pickled pyfunc python_model"):
        PyfuncModel.load(greedy)
    with pytest.raises(UnsupportedTypeError, match="expects a PyfuncModel"):
        MlflowPyfuncModel(model=object())


def test_the_card_keeps_the_mlflow_folder_and_loads_it_back(
    pickles: Path, tmp_path: Path, sqlite_registry_env: Path
) -> None:
    folder = _mlflow_model(tmp_path / "scaler", pickles / "scaler.pkl", {"factor": "2"})
    card = ModelCard(
        interface=MlflowPyfuncModel(model=PyfuncModel.load(folder)), space="s", name="scaler"
    )
    registry = CardRegistry(RegistryType.Model)
    registry.register_card(card)
    assert {"mlflow-model/MLmodel", "mlflow-model/artifacts/factor"} <= set(card.manifest.files)

    loaded = registry.load_card(space="s", name="scaler")
    loaded.load()
    assert isinstance(loaded.model, PyfuncModel)
    assert loaded.model.predict([1.5]) == [3.0]
    specific = loaded.metadata.interface_metadata.model_specific_metadata
    assert (specific["mlflow_version"], specific["python_model_class"]) == ("3.17.2", "Scaler")
