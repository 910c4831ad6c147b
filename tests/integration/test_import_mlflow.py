"""``opsml import mlflow`` against real MLflow 3.17.2 stores (docs/import-mlflow.md).

MLflow lives in its own venv (``.venv-mlflow``, ``make .venv-mlflow/.installed``; ``make
test`` builds it): one process there (tests/integration/mlflow_side.py) builds a SQLite store
with a local artifact root (50 registered model versions of sklearn and pyfunc models, 200
runs with metrics, an alias, and things the import must skip), populates an ``mlflow server``
(proxied artifacts) started beside it, and records what ``mlflow.pyfunc.load_model(...)``
predicts for every model version. The import runs here, in opsml's venv, without mlflow:
through the real CLI for the SQLite store, through the Python API for the server. Without the
venv the tests are skipped, and fail under CI.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opsml import CardRegistry, RegistryType
from opsml.errors import InvalidArgumentError
from opsml.importer import import_mlflow
from opsml.settings import OpsmlConfig

pytestmark = [pytest.mark.slow, pytest.mark.needs("pandas", "sklearn", "skops", "cloudpickle")]

ROOT = Path(__file__).resolve().parents[2]
MLFLOW_VENV = ROOT / ".venv-mlflow"
MLFLOW_SIDE = Path(__file__).with_name("mlflow_side.py")
VERSIONS, RUNS = 50, 200
"""What the SQLite store holds that can be imported (the must-hold of issue 23)."""


@dataclass(frozen=True)
class Stores:
    sqlite_uri: str
    server_url: str
    rows: pd.DataFrame
    predictions: dict[str, list[float]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    python = MLFLOW_VENV / "bin" / "python"
    if not (MLFLOW_VENV / ".installed").exists():
        message = f"{MLFLOW_VENV} is not built: run `make .venv-mlflow/.installed`"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    root = tmp_path_factory.mktemp("mlflow")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSML_", "MLFLOW_"))}
    env |= {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "PYTHONPATH": ""}
    url = f"http://127.0.0.1:{_free_port()}"
    with (root / "server.log").open("wb") as log:
        server = subprocess.Popen(
            [
                str(MLFLOW_VENV / "bin" / "mlflow"), "server", "--host", "127.0.0.1",
                "--port", url.rsplit(":", 1)[1], "--workers", "1",
                "--backend-store-uri", f"sqlite:///{root / 'server.db'}",
                "--artifacts-destination", str(root / "server-artifacts"),
            ],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        store = root / "store"
        built = subprocess.run(
            [str(python), str(MLFLOW_SIDE), str(store), "--versions", str(VERSIONS),
             "--runs", str(RUNS), "--server", url],
            cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert built.returncode == 0, built.stderr[-3000:] + (root / "server.log").read_text()
        yield Stores(
            sqlite_uri=f"sqlite:///{store / 'mlflow.db'}",
            server_url=url,
            rows=pd.read_json(store / "rows.json", orient="split"),
            predictions=json.loads((store / "predictions.json").read_text()),
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _registry_env(folder: Path) -> dict[str, str]:
    return {
        "OPSML_TRACKING_URI": f"sqlite:///{folder / 'opsml.db'}",
        "OPSML_STORAGE_URI": str(folder / "storage"),
    }


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSML_")}
    return subprocess.run(
        [sys.executable, "-m", "opsml.cli.main", "import", "mlflow", *args],
        cwd=folder,
        env=env | _registry_env(folder),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _predicts_alike(card: object, stores: Stores, key: str) -> None:
    expected = stores.predictions[key]
    got = np.asarray(card.model.predict(stores.rows), dtype=float)  # type: ignore[attr-defined]
    np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=key)


def test_mlflow_stores_import_completely_and_every_model_predicts_alike(
    stores: Stores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One test, so that pytest-xdist never builds the stores twice (on two workers)."""
    (tmp_path / "sqlite").mkdir()
    (tmp_path / "server").mkdir()
    (tmp_path / "docs").mkdir()
    _a_sqlite_store_imports_completely(stores, tmp_path / "sqlite", monkeypatch)
    _a_tracking_server_imports_through_its_rest_api(stores, tmp_path / "server")
    _the_docs_example_runs_against_the_store(stores, tmp_path / "docs")


def _a_sqlite_store_imports_completely(
    stores: Stores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pickles_wait_for_permission(stores, tmp_path / "refused")
    first = _cli(tmp_path, "--tracking-uri", stores.sqlite_uri, "--allow-pickle")
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""  # piped: no progress bar
    assert (
        f"runs: {RUNS} imported, 0 already there, 2 skipped; model versions: {VERSIONS} "
        "imported, 0 already there, 1 skipped; aliases: 2 set"
    ) in first.stdout
    for line in (
        "alias mlflow/clf@champion -> 1.0.0",
        "still RUNNING in MLflow",
        "deleted in MLflow",
        "1 NaN or infinite metric points",
        "from-code/1",
        "logged from code",
    ):
        assert line in first.stdout, line

    for key, value in _registry_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    models = CardRegistry(RegistryType.Model)
    experiments = CardRegistry(RegistryType.Experiment)
    records = models.list_cards(space="mlflow", limit=1000)
    assert len(records) == VERSIONS
    assert len(experiments.list_cards(space="mlflow", limit=1000)) == RUNS
    for record in records:
        card = models.load_card(uid=record.uid)
        card.load()
        _predicts_alike(card, stores, f"{card.name}/{card.version.split('.')[0]}")

    clf = models.load_card(space="mlflow", name="clf", version="@champion")
    assert clf.version == "1.0.0"
    assert clf.metadata.interface_metadata.interface_type == "SklearnModel"
    assert {"mlflow.model=clf", "mlflow.model_version=1", "mlflow.flavor=sklearn"} <= set(clf.tags)
    assert "owner=search-team" in clf.tags  # the registered model's own tag
    adder = models.load_card(space="mlflow", name="adder")
    assert adder.metadata.interface_metadata.interface_type == "MlflowPyfuncModel"
    assert "mlflow.flavor=python_function" in adder.tags
    assert models.load_card(space="mlflow", name="scale-0", version="@prod").version == "2.0.0"

    run = experiments.load_card(uid=clf.metadata.experimentcard_uid)
    run_id = next(t.split("=", 1)[1] for t in clf.tags if t.startswith("mlflow.run_id="))
    assert f"mlflow.run_id={run_id}" in run.tags
    assert (run.name, run.status) == ("iris", "completed")
    assert {"mlflow.run_name=train-clf-1", "team=search"} <= set(run.tags)
    assert clf.uid in run.uids.modelcard_uids
    loss = run.get_metrics(["loss"])["loss"]
    assert [(m.step, m.value) for m in loss] == [(s, 1.0 / (s + 1) + 1.0) for s in range(5)]
    assert run.get_parameters().as_dict() == {"C": "1.0", "solver": "lbfgs"}
    assert run.list_artifacts() == ["artifacts/reports/notes.txt", "mlflow/run.json"]
    sweep = experiments.list_cards(space="mlflow", name="sweep-bulk", limit=1000)
    assert len(sweep) == RUNS - 4
    failed = [r for r in sweep if experiments.load_card(uid=r.uid).status == "failed"]
    assert len(failed) == len([i for i in range(RUNS - 4) if i % 7 == 0])

    # An import killed half way through a run leaves its card "importing": redone next time.
    interrupted = experiments.load_card(uid=sweep[0].uid)
    interrupted.status = "importing"
    experiments.update_card(interrupted)

    again = _cli(tmp_path, "--tracking-uri", stores.sqlite_uri, "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["models_imported"], report["aliases_set"]) == ([], [])
    assert report["runs_imported"] == [f"mlflow/sweep-bulk v{interrupted.version}"]  # highest
    assert (report["runs_unchanged"], report["models_unchanged"]) == (RUNS - 1, VERSIONS)
    assert len(models.list_cards(space="mlflow", limit=1000)) == VERSIONS
    assert len(experiments.list_cards(space="mlflow", limit=1000)) == RUNS
    redone = experiments.list_cards(space="mlflow", tags=[interrupted.tags[0]])
    assert [r.uid for r in redone] != [interrupted.uid]
    assert experiments.load_card(uid=redone[0].uid).status in ("completed", "failed")

    with pytest.raises(InvalidArgumentError, match="no registered model 'nope'"):
        import_mlflow(stores.sqlite_uri, registered_model="nope")


def _pickles_wait_for_permission(stores: Stores, folder: Path) -> None:
    """Without --allow-pickle a pickled PythonModel is skipped, with how to import it; the
    permission (here MLflow's own variable) imports it on the next run."""
    folder.mkdir()
    config = OpsmlConfig.from_env(_registry_env(folder), folder)
    refused = import_mlflow(stores.sqlite_uri, registered_model="adder", config=config)
    assert refused.models_imported == []
    assert [s.mlflow_id for s in refused.skipped] == ["adder/1"]
    assert "--allow-pickle" in refused.skipped[0].reason
    allowed = import_mlflow(
        stores.sqlite_uri,
        registered_model="adder",
        config=config,
        environ={**os.environ, "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"},
    )
    assert allowed.models_imported == ["mlflow/adder v1.0.0"], allowed


def _a_tracking_server_imports_through_its_rest_api(stores: Stores, tmp_path: Path) -> None:
    config = OpsmlConfig.from_env(_registry_env(tmp_path), tmp_path)
    report = import_mlflow(
        stores.server_url, registered_model="served-clf", space="served", config=config
    )
    assert (len(report.runs_imported), len(report.models_imported)) == (1, 1), report
    assert report.aliases_set == ["served/served-clf@prod -> 1.0.0"]
    assert report.skipped == []

    models = CardRegistry(RegistryType.Model, config)
    card = models.load_card(space="served", name="served-clf", version="@prod")
    card.load()
    _predicts_alike(card, stores, "served-clf/1")
    run = CardRegistry(RegistryType.Experiment, config).load_card(
        uid=card.metadata.experimentcard_uid
    )
    assert run.name == "served"
    assert [(m.step, round(m.value, 6)) for m in run.get_metrics()["loss"]] == [
        (0, 0.3),
        (1, 0.2),
        (2, 0.1),
    ]
    assert run.get_parameters().as_dict() == {"C": "0.5"}
    assert "artifacts/served.txt" in run.list_artifacts()

    again = import_mlflow(stores.server_url, space="served", config=config)
    assert (again.runs_imported, again.models_imported) == ([], [])
    assert (again.runs_unchanged, again.models_unchanged) == (1, 1)


def _the_docs_example_runs_against_the_store(stores: Stores, tmp_path: Path) -> None:
    """docs/import-mlflow.md's example (marked no-test for tests/docs: it needs the store)
    runs in a folder holding the store's database, as a user runs it."""
    page = (ROOT / "docs" / "import-mlflow.md").read_text(encoding="utf-8")
    example = page.split("<!-- no-test -->\n```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "example.py").write_text(example, encoding="utf-8")
    shutil.copyfile(stores.sqlite_uri.removeprefix("sqlite:///"), tmp_path / "mlflow.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSML_")}
    result = subprocess.run(
        [sys.executable, "example.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "runs: 2 imported, 0 already there, 0 skipped; model versions: 2 imported" in (
        result.stdout
    )
