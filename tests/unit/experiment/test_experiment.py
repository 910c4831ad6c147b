"""Experiments in local and client mode: metrics, parameters, files, links, failures."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from opsml import CardRegistry, DataCard, ModelCard, Prompt, PromptCard, RegistryType
from opsml.data import PandasData
from opsml.errors import CardStateError, InvalidArgumentError, MissingDependencyError
from opsml.experiment import (
    EvalMetrics,
    Experiment,
    Metric,
    Parameter,
    get_experiment_metrics,
    get_experiment_parameters,
    start_experiment,
)
from opsml.model import SklearnModel


def test_a_training_run_is_recorded_and_linked(
    both_modes_registry_env: Path, tmp_path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text("print('train')\n")
    (code / ".secret").write_text("not code")
    notes = tmp_path / "notes.txt"
    notes.write_text("what we tried")
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(100, 4)), columns=list("abcd"))
    y = (X["a"] > 0).astype(int)
    clf = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)

    with start_experiment(space="team-a", name="churn", code_dir=code) as exp:
        assert exp.card.uid is not None  # registered at start
        for step in range(10_000):
            exp.log_metric("train/loss", 1.0 / (step + 1), step=step)
        exp.log_metrics([Metric("val acc", 0.5, step=1), Metric("val acc", 0.7, step=2)])
        exp.log_eval_metrics(EvalMetrics({"auc": 0.93}))
        exp.log_parameters({"n_estimators": 5, "criterion": "gini", "bootstrap": True})
        exp.log_parameter("learning rate", 0.1)
        exp.log_artifact(notes)
        figure = plt.figure()
        plt.plot([1, 2, 3])
        exp.log_figure("loss.png", figure)
        data = DataCard(interface=PandasData(data=X), space="team-a", name="features")
        exp.register_card(data)
        model = ModelCard(
            interface=SklearnModel(model=clf, sample_data=X[:5]),
            space="team-a",
            name="churn",
            datacard_uid=data.uid,
        )
        exp.register_card(model)
        uid = exp.uid

    card = CardRegistry(RegistryType.Experiment).load_card(uid=uid)
    assert card.status == "completed"
    assert card.uids.datacard_uids == [data.uid]
    assert card.uids.modelcard_uids == [model.uid]
    loaded_model = CardRegistry(RegistryType.Model).load_card(uid=model.uid)
    assert loaded_model.experimentcard_uid == uid  # linked both ways
    series = card.get_metrics()
    assert len(series["train/loss"]) == 10_000
    assert [m.step for m in series["train/loss"][:3]] == [0, 1, 2]
    assert [m.value for m in series["val acc"]] == [0.5, 0.7]
    assert series["auc"][0].is_eval
    assert len(get_experiment_metrics(uid, names=["auc", "val acc"])) == 3
    params = get_experiment_parameters(uid).as_dict()
    assert params == {
        "bootstrap": True,
        "criterion": "gini",
        "learning rate": 0.1,
        "n_estimators": 5,
    }
    assert type(params["n_estimators"]) is int
    assert card.get_parameters(["criterion"]).as_dict() == {"criterion": "gini"}
    assert card.list_artifacts() == ["artifacts/notes.txt", "code/train.py", "figures/loss.png"]
    assert card.list_artifacts("code") == ["code/train.py"]
    folder = card.download_artifacts(lpath=tmp_path / "dl")
    assert (folder / "artifacts" / "notes.txt").read_text() == "what we tried"
    single = card.download_artifact("figures/loss.png", tmp_path / "one")
    assert single.read_bytes()[:4] == b"\x89PNG"


def test_an_exception_marks_the_run_failed_and_is_raised(both_modes_registry_env: Path) -> None:
    def run() -> None:
        with start_experiment(space="s", name="boom") as exp:
            exp.log_metric("loss", 1.0)
            uids.append(exp.uid)
            raise ZeroDivisionError("division by zero")

    uids: list[str] = []
    with pytest.raises(ZeroDivisionError):
        run()
    uid = uids[0]
    card = CardRegistry(RegistryType.Experiment).load_card(uid=uid)
    assert card.status == "failed"
    assert "ZeroDivisionError" in str(card.error)
    assert len(card.get_metrics()["loss"]) == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (math.nan, "must be finite"),
        (math.inf, "must be finite"),
        ("0.5", "needs a number"),
        (True, "needs a number"),
        (None, "needs a number"),
    ],
)
def test_bad_metric_values_fail_at_the_call(
    sqlite_registry_env: Path, value: object, message: str
) -> None:
    with start_experiment(space="s", name="bad") as exp:
        with pytest.raises(InvalidArgumentError, match=message):
            exp.log_metric("loss", value)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="name"):
            exp.log_metric("", 1.0)
        with pytest.raises(InvalidArgumentError, match="control characters"):
            exp.log_metric("a\x00b", 1.0)
        with pytest.raises(InvalidArgumentError):
            exp.log_parameter("p", [1, 2])  # type: ignore[arg-type]
        exp.log_metric("ok", np.float32(0.25))
        exp.log_metric("with / and spaces", 1)
        uid = exp.uid
    names = sorted(m.name for m in get_experiment_metrics(uid))
    assert names == ["ok", "with / and spaces"]  # stored as given; the run ended cleanly


def _stored_hardware_samples(exp: Experiment) -> int:
    exp.flush()
    return len(CardRegistry(RegistryType.Experiment).backend.get_hardware_metrics(exp.uid))


def test_reopen_children_and_hardware(both_modes_registry_env: Path) -> None:
    with start_experiment(space="s", name="parent", log_hardware=True, hardware_interval=0.05) as p:
        give_up = time.monotonic() + 120  # only against a hang: a sample every 0.05 s
        while _stored_hardware_samples(p) < 2:  # the sampler runs on its own, repeatedly
            assert time.monotonic() < give_up, "fewer than 2 hardware samples were taken"
            time.sleep(0.02)
        with start_experiment(space="s", name="child") as child:
            child.log_metric("loss", 0.1)
        p.card.add_child_experiment(child.uid)
        parent_uid = p.uid
    with start_experiment(experiment_uid=parent_uid) as again:
        again.log_metric("loss", 0.2, step=2)
    registry = CardRegistry(RegistryType.Experiment)
    card = registry.load_card(uid=parent_uid)
    assert card.uids.experimentcard_uids == [child.uid]
    assert card.status == "completed"
    assert [m.value for m in card.get_metrics()["loss"]] == [0.2]
    samples = registry.backend.get_hardware_metrics(parent_uid)
    assert len(samples) >= 2
    assert samples[0].memory_used > 0
    assert len(samples[0].cpu_percent_per_core) >= 1


def test_metric_and_parameter_types() -> None:
    assert Metric("a", 1).value == 1.0
    assert Metric("a", 1, timestamp=5).created_at.year == 1970
    assert Parameter("p", True).value is True
    with pytest.raises(InvalidArgumentError, match="needs 0 to 65536 characters, got 70000"):
        Parameter("p", "x" * 70_000)
    with pytest.raises(InvalidArgumentError, match=r"step must be an integer, got 1\.5"):
        Metric("a", 1.0, step=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        EvalMetrics({"auc": math.nan})
    with start_experiment() as exp:
        card = PromptCard(prompt=Prompt(message="x"), space="s", name="p")
        exp.register_card(card)
        with pytest.raises(CardStateError, match="already registered"):
            exp.register_card(card)


def test_hardware_logging_without_psutil_fails_before_registering(
    sqlite_registry_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psutil", None)  # as if the extra were not installed
    with pytest.raises(MissingDependencyError, match="experiment"):
        start_experiment(space="s", name="hw", log_hardware=True)
    assert len(CardRegistry(RegistryType.Experiment).list_cards()) == 0


def test_a_run_whose_files_cannot_be_stored_is_marked_failed(
    sqlite_registry_env: Path, tmp_path: Path
) -> None:
    first = tmp_path / "a.txt"
    first.write_text("one")
    with start_experiment(space="s", name="files") as exp:
        exp.log_artifact(first, "notes/a.txt")
    first.write_text("two")  # the same path with other bytes is refused when re-opened
    with (
        pytest.raises(InvalidArgumentError, match="already logged"),
        start_experiment(experiment_uid=exp.uid) as again,
    ):
        again.log_artifact(first, "notes/a.txt")
    card = CardRegistry(RegistryType.Experiment).load_card(uid=exp.uid)
    assert card.status == "failed"
    assert "already logged" in str(card.error)
    assert card.list_artifacts() == ["notes/a.txt"]


def test_artifacts_larger_than_the_request_body_limit(
    both_modes_registry_env: Path, tmp_path: Path
) -> None:
    big = tmp_path / "weights.bin"
    payload = np.random.default_rng(1).bytes(20 * 1024 * 1024)  # over the 16 MiB body limit
    big.write_bytes(payload)
    with start_experiment(space="team-a", name="big-files") as exp:
        exp.log_artifact(big, "checkpoints/weights.bin")
    loaded = CardRegistry(RegistryType.Experiment).load_card(uid=exp.uid)
    out = loaded.download_artifacts(lpath=tmp_path / "out")
    assert (Path(out) / "checkpoints" / "weights.bin").read_bytes() == payload
