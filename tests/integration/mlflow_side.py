"""The MLflow side of tests/integration/test_import_mlflow.py, run with MLflow's own venv
(``.venv-mlflow``, built by ``make .venv-mlflow/.installed``), never imported by opsml's
tests.

``build ROOT [--versions N] [--runs N]``: an MLflow 3 tracking store in ROOT (SQLite
``mlflow.db`` and the local artifact root ``artifacts/``) as a user's would be: an sklearn
model ``clf`` (two versions, alias ``champion`` on version 1) and a pyfunc model ``adder``
logged with ``log_model``, runs with metrics over several steps, parameters, tags and files;
then, up to N registered model versions in all, versions of ``scale-*`` models sharing those
two logged models (as a retrained-and-registered-again history would), and up to N runs in
all, logged with batch calls. Prints a JSON summary.

``server-populate URL``: through a running ``mlflow server`` (artifacts proxied), one run
with metrics and a file and one sklearn model version with an alias.

``predict TRACKING_URI ROWS OUT``: ``mlflow.pyfunc.load_model("models:/name/version")``
for every READY model version of the store, predicting ROWS (a pandas ``split`` JSON);
writes ``{"name/version": [predictions]}`` to OUT.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
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
    made_versions, made_runs = 3, 3
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
        metrics = [
            Metric("loss", 1.0 / (step + 1) + index, now + step, step) for step in range(10)
        ]
        metrics.append(Metric("val/acc", 0.5, now, 0))
        params = [Param("lr", str(0.01 * (index + 1))), Param("depth", str(index % 5))]
        client.log_batch(rid, metrics=metrics, params=params, tags=[RunTag("sweep", "bulk")])
        client.set_terminated(rid, "FINISHED" if index % 7 else "FAILED", end_time=now + 99)
    print(json.dumps({"versions": made_versions, "runs": runs}))


def server_populate(url: str, work: Path) -> None:
    mlflow.set_tracking_uri(url)
    work.mkdir(parents=True, exist_ok=True)
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
    print(json.dumps({"ok": True}))


def predict(tracking_uri: str, rows: Path, out: Path) -> None:
    mlflow.set_tracking_uri(tracking_uri)
    data = pd.read_json(rows, orient="split")
    client = MlflowClient()
    found: dict[str, list[float]] = {}
    for registered in client.search_registered_models():
        for version in client.search_model_versions(f"name='{registered.name}'"):
            model = mlflow.pyfunc.load_model(f"models:/{registered.name}/{version.version}")
            found[f"{registered.name}/{version.version}"] = np.asarray(
                model.predict(data), dtype=float
            ).tolist()
    out.write_text(json.dumps(found))


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("build")
    make.add_argument("root", type=Path)
    make.add_argument("--versions", type=int, default=3)
    make.add_argument("--runs", type=int, default=4)
    served = commands.add_parser("server-populate")
    served.add_argument("url")
    served.add_argument("work", type=Path)
    guess = commands.add_parser("predict")
    guess.add_argument("tracking_uri")
    guess.add_argument("rows", type=Path)
    guess.add_argument("out", type=Path)
    args = parser.parse_args()
    if args.command == "build":
        build(args.root, args.versions, args.runs)
    elif args.command == "server-populate":
        server_populate(args.url, args.work)
    else:
        predict(args.tracking_uri, args.rows, args.out)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
