"""Experiments across processes: a run killed mid-way keeps what was flushed; 10 000
log_metric calls through a real server are sent in a few batches and all arrive."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsml import CardRegistry, RegistryType
from opsml.experiment import _experiment as experiment_module
from opsml.experiment import get_experiment_metrics, get_experiment_parameters, start_experiment
from opsml.mock import OpsmlTestServer

WORKER = Path(__file__).parent / "workers" / "killed_experiment.py"
METRICS_POST = re.compile(r'"POST /opsml/api/experiment/cards/[^/ ]+/metrics HTTP/1\.1" 200')


@pytest.mark.slow
def test_a_killed_run_keeps_its_flushed_metrics(both_modes_registry_env: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(WORKER)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == -9, result.stderr
    uid = result.stdout.strip()
    assert len(get_experiment_metrics(uid)) == 100
    assert get_experiment_parameters(uid).as_dict() == {"epochs": 3}
    card = CardRegistry(RegistryType.Experiment).load_card(uid=uid)
    assert card.status == "running"  # it never ended: the record says so


@pytest.fixture
def server_log(tmp_path: Path) -> Iterator[Path]:
    """A real server process with this process in client mode against it; yields the
    server's log, whose access lines say which requests it received."""
    with OpsmlTestServer(base_path=tmp_path / "server"):
        yield tmp_path / "server" / "server.log"


@pytest.mark.client
def test_ten_thousand_metrics_in_client_mode(
    server_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only a full buffer and the end of the run send metrics here, never the clock, so the
    # number of requests does not depend on how fast this machine runs the loop.
    monkeypatch.setattr(experiment_module, "FLUSH_SECONDS", 3600.0)
    with start_experiment(space="s", name="fast") as exp:
        for step in range(10_000):
            exp.log_metric("loss", 1.0 / (step + 1), step=step)
        uid = exp.uid

    points = get_experiment_metrics(uid)
    assert len(points) == 10_000
    assert [p.step for p in points[:3]] == [0, 1, 2]
    # No round trip per call: batches of up to BATCH_SIZE (1 000) points, at most one
    # short batch after each full one (the buffer may refill while one is sent) and one
    # at the end. The speed target (< 1 s) is measured by benchmarks/experiment_runs.py.
    sent = len(METRICS_POST.findall(server_log.read_text(errors="replace")))
    assert 1 <= sent <= 2 * (10_000 // experiment_module.BATCH_SIZE) + 1
