"""The MLflow side of tests/integration/test_import_mlflow.py, run with MLflow's own venv
(``.venv-mlflow``, built by ``make .venv-mlflow/.installed``), never imported by opsml's
tests. One process (importing mlflow costs seconds) does it all:

``python mlflow_side.py ROOT [--versions N] [--runs N] [--server URL]``

- an MLflow 3 tracking store in ROOT (SQLite ``mlflow.db`` and the local artifact root
  ``artifacts/``) as a user's would be: an sklearn model ``clf`` (two versions, alias
  ``champion`` on version 1) and a pyfunc model ``adder`` logged with ``log_model``, runs
  with metrics over several steps, parameters, tags and files, and a model logged from code
  (``from-code``, which opsml does not import: running it needs mlflow); then, up to N registered
  model versions in all, versions of ``scale-*`` models sharing those two logged models (as
  a model registered again under other names would), and up to N runs in all, logged with
  batch calls (one with a NaN point), and besides these a run still RUNNING and a deleted
  run;
- with ``--server``, through that running ``mlflow server`` (artifacts proxied): one run
  with metrics and a file, and one sklearn model version with an alias;
- ``ROOT/rows.json`` (a pandas ``split`` frame) and ``ROOT/predictions.json``:
  ``mlflow.pyfunc.load_model("models:/<name>/<version>").predict(rows)`` of every model
  version of both stores, ``{"<name>/<version>": [...]}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
os.environ.setdefault("MLFLOW_RECORD_ENV_VARS_IN_MODEL_LOGGING", "false")

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from sklearn.linear_model import LogisticRegression

REQUIREMENTS = ["scikit-learn", "pandas"]  # skips MLflow's slow requirement inference


class Adder(mlflow.pyfunc.PythonModel):
    """A pyfunc model: a weighted sum of the columns, weights from load_context."""

    def __init__(self, offset: float) -> None:
        self.offset = offset
        self.weights: list[float] = []

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.weights = json.loads(Path(context.artifacts["weights"]).read_text())

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return model_input.to_numpy() @ np.array(self.weights) + self.offset


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})


def log_models(root: Path) -> dict[str, str]:
    """The models a user logs with log_model; returns the logged models' uris by kind."""
    mlflow.set_experiment("iris")
    X = frame(40, 0)
    y = (X.a + X.b > 0).astype(int)
    uris = {}
    for version, c in enumerate((1.0, 0.05), start=1):
        with mlflow.start_run(run_name=f"train-clf-{version}"):
            mlflow.log_params({"C": c, "solver": "lbfgs"})
            for step in range(5):
                mlflow.log_metric("loss", 1.0 / (step + 1) + c, step=step)
            mlflow.log_metric("accuracy", 0.5 + 0.1 * version)
            mlflow.set_tag("team", "search")
            notes = root / "notes.txt"
            notes.write_text(f"trained with C={c}\n")
            mlflow.log_artifact(str(notes), artifact_path="reports")
            model = LogisticRegression(C=c).fit(X, y)
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name="clf",
                input_example=X.head(3),
                pip_requirements=REQUIREMENTS,
            )
            uris["sklearn"] = info.model_uri
    weights = root / "weights.json"
    weights.write_text(json.dumps([2.0, -1.0]))
    with mlflow.start_run(run_name="adder"):
        mlflow.log_param("offset", 0.5)
        mlflow.log_metric("mae", 0.1, step=0)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=Adder(0.5),
            artifacts={"weights": str(weights)},
            registered_model_name="adder",
            pip_requirements=REQUIREMENTS,
        )
        uris["pyfunc"] = info.model_uri
    code = root / "doubler.py"
    code.write_text(
        "import mlflow\n\n\nclass Doubler(mlflow.pyfunc.PythonModel):\n"
        "    def predict(self, context, model_input, params=None):\n"
        "        return model_input.sum(axis=1) * 2\n\n\nmlflow.models.set_model(Doubler())\n"
    )
    with mlflow.start_run(run_name="from-code"):
        mlflow.pyfunc.log_model(
            name="model",
            python_model=str(code),
            registered_model_name="from-code",
            pip_requirements=REQUIREMENTS,
        )
    client = MlflowClient()
    client.set_registered_model_alias("clf", "champion", "1")
    client.set_registered_model_tag("clf", "owner", "search-team")
    return uris


def build(root: Path, versions: int, runs: int) -> None:
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    mlflow.create_experiment("iris", artifact_location=(root / "artifacts").as_uri())
    uris = log_models(root)
    client = MlflowClient()
    made_versions, made_runs = 3, 4  # and from-code, not importable
    index = 0
    while made_versions < versions:  # 12 versions per scale-* model
        name = f"scale-{index // 12}"
        if index % 12 == 0:
            client.create_registered_model(name)
        kind = "sklearn" if index % 2 == 0 else "pyfunc"
        model_id = uris[kind].removeprefix("models:/")
        run_id = client.get_logged_model(model_id).source_run_id
        client.create_model_version(name, uris[kind], run_id=run_id, model_id=model_id)
        made_versions += 1
        index += 1
    client.set_registered_model_alias("scale-0", "prod", "2")
    experiment_id = client.create_experiment(
        "Sweep/Bulk", artifact_location=(root / "sweep").as_uri()
    )
    now = int(time.time() * 1000)
    for index in range(runs - made_runs):
        run = client.create_run(experiment_id, run_name=f"trial-{index}", start_time=now + index)
        rid = run.info.run_id
        metrics = [Metric("loss", 1.0 / (step + 1) + index, now + step, step) for step in range(10)]
        metrics.append(Metric("val/acc", 0.5, now, 0))
        params = [Param("lr", str(0.01 * (index + 1))), Param("depth", str(index % 5))]
        client.log_batch(rid, metrics=metrics, params=params, tags=[RunTag("sweep", "bulk")])
        client.set_terminated(rid, "FINISHED" if index % 7 else "FAILED", end_time=now + 99)
        if index == 0:
            client.log_metric(rid, "loss", float("nan"), now, step=10)
    client.create_run(experiment_id, run_name="still-running")
    deleted = client.create_run(experiment_id, run_name="deleted").info.run_id
    client.set_terminated(deleted)
    client.delete_run(deleted)


def wait_for(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def server_populate(url: str, work: Path) -> None:
    wait_for(url)
    mlflow.set_tracking_uri(url)
    mlflow.set_experiment("served")
    X = frame(30, 1)
    with mlflow.start_run(run_name="served-run"):
        mlflow.log_param("C", 0.5)
        for step in range(3):
            mlflow.log_metric("loss", 0.3 - 0.1 * step, step=step)
        notes = work / "served.txt"
        notes.write_text("through the server\n")
        mlflow.log_artifact(str(notes))
        mlflow.sklearn.log_model(
            LogisticRegression(C=0.5).fit(X, (X.a > 0).astype(int)),
            name="model",
            registered_model_name="served-clf",
            pip_requirements=REQUIREMENTS,
        )
    MlflowClient().set_registered_model_alias("served-clf", "prod", "1")


def predict(tracking_uri: str, data: pd.DataFrame) -> dict[str, list[float]]:
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient()
    found: dict[str, list[float]] = {}
    for registered in client.search_registered_models():
        for version in client.search_model_versions(f"name='{registered.name}'"):
            model = mlflow.pyfunc.load_model(f"models:/{registered.name}/{version.version}")
            found[f"{registered.name}/{version.version}"] = np.asarray(
                model.predict(data), dtype=float
            ).tolist()
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--server")
    args = parser.parse_args()
    root = args.root.resolve()
    build(root, args.versions, args.runs)
    rows = frame(8, 7).round(6)  # exact in JSON: both sides predict the same numbers
    (root / "rows.json").write_text(rows.to_json(orient="split"))
    predictions = predict(f"sqlite:///{root / 'mlflow.db'}", rows)
    if args.server:
        server_populate(args.server, root)
        predictions |= predict(args.server, rows)
    (root / "predictions.json").write_text(json.dumps(predictions))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
