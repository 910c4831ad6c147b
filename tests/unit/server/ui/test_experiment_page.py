"""An experiment's page as a data scientist reads it: status, duration and error; eval
metrics as numbers; many metrics in natural order with a filter, a cap on charts and a
table of latest values. Through the app in-process, on runs made by ``start_experiment``."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opsml import CardRegistry, RegistryType
from opsml.cards import Metric
from opsml.experiment import start_experiment
from opsml.server import create_app
from opsml.server.ui._views import MAX_CHARTS, format_duration, natural_key


@pytest.fixture
def client(sqlite_registry_env: Path) -> TestClient:
    return TestClient(create_app(), base_url="http://localhost")


def _charted(page: str) -> list[str]:
    return re.findall(r'<figure class="metric" data-metric="([^"]+)"', page)


def _failing_run() -> None:
    with start_experiment(space="team", name="boom") as exp:
        exp.log_metric("loss", 0.5, step=1)
        raise ZeroDivisionError("division by zero")


def test_a_failed_run_shows_its_status_and_error(client: TestClient) -> None:
    with pytest.raises(ZeroDivisionError):
        _failing_run()
    (record,) = CardRegistry(RegistryType.Experiment).list_cards(space="team", name="boom")
    page = client.get(f"/ui/experiment/{record.uid}").text
    assert '<p class="status status-failed" data-status="failed">failed</p>' in page
    alert = re.search(r'<div class="error" role="alert"><p>(.*?)</p>', page, re.DOTALL)
    assert alert is not None
    assert unescape(alert.group(1)) == "ZeroDivisionError: division by zero"
    assert '<th scope="row">duration</th><td>' in page


def test_a_completed_run_shows_eval_metrics_as_numbers(client: TestClient) -> None:
    with start_experiment(space="team", name="good") as exp:
        exp.log_metric("loss", 0.5, step=1)
        exp.log_eval_metrics({"accuracy": 0.98765, "n_rows": 1234567})
    page = client.get(f"/ui/experiment/{exp.card.uid}").text
    assert 'data-status="completed">completed</p>' in page
    assert '<tr><th scope="row">accuracy</th><td class="num">0.9877</td></tr>' in page
    assert '<tr><th scope="row">n_rows</th><td class="num">1,234,567</td></tr>' in page
    # Eval results are numbers, not one-point charts.
    assert _charted(page) == ["loss"]


def test_many_metrics_are_ordered_naturally_capped_and_filterable(client: TestClient) -> None:
    with start_experiment(space="team", name="wide") as exp:
        exp.log_metrics(
            [Metric(f"m{i}", float(i * step), step=step) for i in range(100) for step in (1, 2)]
        )
    uid = exp.card.uid
    page = client.get(f"/ui/experiment/{uid}").text
    charted = _charted(page)
    assert charted[:11] == [f"m{i}" for i in range(11)]  # m2 before m10
    assert len(charted) == MAX_CHARTS
    assert f"100 of 100 metrics, the first {MAX_CHARTS} charted" in page
    latest = re.findall(r'<tr><th scope="row">(m\d+)</th><td class="num">([^<]+)</td>', page)
    assert len(latest) == 100
    assert latest[99] == ("m99", "198")  # the value at its last step

    narrowed = client.get(f"/ui/experiment/{uid}", params={"metric": "M9"}).text
    assert _charted(narrowed) == ["m9", *(f"m{i}" for i in range(90, 100))]
    assert "11 of 100 metrics" in narrowed
    none = client.get(f"/ui/experiment/{uid}", params={"metric": "nope"}).text
    assert _charted(none) == []
    assert "No metric name contains “nope”." in none


def test_natural_key_and_durations() -> None:
    assert sorted(["m10", "m2", "M1", "m1b"], key=natural_key) == ["M1", "m1b", "m2", "m10"]
    assert [format_duration(s) for s in (0.42, 42, 185, 7380)] == [
        "0.4 s",
        "42 s",
        "3 min 05 s",
        "2 h 03 min",
    ]
