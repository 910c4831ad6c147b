"""OpsML 3's experiment API beyond SPEC's core: ``eval_metrics`` on the card, and
``opsml.experiment.download_artifact`` by uid (local and client mode)."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsml import CardRegistry, RegistryType
from opsml.errors import CardNotFoundError, InvalidArgumentError
from opsml.experiment import EvalMetrics, download_artifact, start_experiment


def test_eval_metrics_are_kept_on_the_card(both_modes_registry_env: Path) -> None:
    with start_experiment(space="team-a", name="churn") as exp:
        exp.log_eval_metrics(EvalMetrics({"mape": 0.1, "rmse": 2.0}))
        exp.log_eval_metrics({"mape": 0.05})
        assert exp.card.eval_metrics == {"mape": 0.05, "rmse": 2.0}
    card = CardRegistry(RegistryType.Experiment).load_card(uid=exp.uid)
    assert card.eval_metrics["mape"] == 0.05
    assert card.eval_metrics == {"mape": 0.05, "rmse": 2.0}


def test_download_artifact_by_uid_takes_a_path_or_its_end(
    both_modes_registry_env: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "outputs"
    (folder / "a").mkdir(parents=True)
    (folder / "b").mkdir()
    (folder / "a" / "data_0.pkl").write_bytes(b"zero")
    (folder / "a" / "same.txt").write_text("from a")
    (folder / "b" / "same.txt").write_text("from b")
    with start_experiment(space="team-a", name="churn") as exp:
        exp.log_artifacts(folder)

    assert download_artifact(exp.uid, "data_0.pkl") == Path("artifacts") / "data_0.pkl"
    got = download_artifact(exp.uid, "data_0.pkl", tmp_path / "dl")
    assert got == tmp_path / "dl" / "data_0.pkl"
    assert got.read_bytes() == b"zero"
    full = download_artifact(exp.uid, "artifacts/outputs/b/same.txt", tmp_path / "full")
    assert full.read_text() == "from b"
    assert download_artifact(exp.uid, "b/same.txt", tmp_path / "end").read_text() == "from b"
    with pytest.raises(InvalidArgumentError, match="several artifacts"):
        download_artifact(exp.uid, "same.txt", tmp_path / "x")
    with pytest.raises(CardNotFoundError, match="no artifact"):
        download_artifact(exp.uid, "missing.pkl", tmp_path / "x")
    with pytest.raises(InvalidArgumentError):
        download_artifact("not-a-uid", "data_0.pkl")
