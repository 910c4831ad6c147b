"""An experiment's page as a data scientist reads it: status, duration and error; eval
metrics as numbers; many metrics in natural order with a filter, a cap on charts and a
table of latest values. Through the app in-process, on runs made by ``start_experiment``."""

from __future__ import annotations

import itertools
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


def _loss_chart(page: str) -> str:
    found = re.search(r'<figure class="metric" data-metric="loss".*?</figure>', page, re.DOTALL)
    assert found is not None
    return found.group(0)


def _line_ys(chart: str) -> list[float]:
    points = re.search(r"<polyline points='([^']+)'", chart)
    assert points is not None
    return [float(pair.split(",")[1]) for pair in points.group(1).split()]


def test_log_scale_and_smoothing_toggles(client: TestClient) -> None:
    """A loss falling over four decades reads on a log axis; a noisy one through smoothing.
    Both are query parameters of the page (no JavaScript needed), and the points keep the
    logged values."""
    values = [10.0 ** (1 - step / 10) * (1.5 if step % 2 else 0.5) for step in range(41)]
    with start_experiment(space="team", name="curve") as exp:
        exp.log_metrics([Metric("loss", v, step=s) for s, v in enumerate(values)])
    uid = exp.card.uid

    linear = _loss_chart(client.get(f"/ui/experiment/{uid}").text)
    assert "data-scale='linear'" in linear
    log = _loss_chart(client.get(f"/ui/experiment/{uid}", params={"scale": "log"}).text)
    assert "data-scale='log'" in log
    ticks = re.findall(r"<text class='tick' x='\d+' y='[\d.]+' text-anchor='end'>([^<]+)<", log)
    assert {"0.01", "0.1", "1", "10"} <= set(ticks)  # whole decades, labelled by value
    assert re.findall(r"data-y='([^']+)'", log) == re.findall(r"data-y='([^']+)'", linear)

    raw = _line_ys(linear)
    smoothed = _line_ys(
        _loss_chart(client.get(f"/ui/experiment/{uid}", params={"smooth": "0.8"}).text)
    )
    assert len(smoothed) == len(raw)
    wiggle = sum(abs(a - b) for a, b in itertools.pairwise(raw))
    calmer = sum(abs(a - b) for a, b in itertools.pairwise(smoothed))
    assert calmer < wiggle / 3
    page = client.get(f"/ui/experiment/{uid}", params={"smooth": "0.8", "scale": "log"}).text
    assert '<option value="log" selected>' in page
    assert 'name="smooth" min="0" max="0.99" step="0.05" value="0.8"' in page


def test_log_scale_needs_positive_values_and_bad_toggles_are_refused(
    client: TestClient,
) -> None:
    with start_experiment(space="team", name="signed") as exp:
        exp.log_metrics([Metric("loss", v, step=s) for s, v in enumerate([-1.0, 0.0, 2.0])])
    uid = exp.card.uid
    chart = _loss_chart(client.get(f"/ui/experiment/{uid}", params={"scale": "log"}).text)
    assert "data-scale='linear (log needs positive values)'" in chart
    for params in ({"smooth": "1.5"}, {"smooth": "-0.1"}, {"smooth": "x"}, {"scale": "cubic"}):
        answer = client.get(f"/ui/experiment/{uid}", params=params)
        assert answer.status_code == 422, params
        assert "Traceback" not in answer.text


def test_smoothing_starts_at_the_first_value() -> None:
    from opsml.server.ui._charts import smooth

    assert smooth([4.0, 4.0, 4.0], 0.9) == pytest.approx([4.0, 4.0, 4.0])
    assert smooth([1.0, 3.0], 0.0) == [1.0, 3.0]
    first, second = smooth([2.0, float("nan"), 4.0], 0.5)[::2]
    assert first == pytest.approx(2.0)
    assert 2.0 < second < 4.0
