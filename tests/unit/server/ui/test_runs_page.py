"""The runs table and the comparison pages as a data scientist uses them, through the app
in-process: columns chosen in the URL, sorting by a metric, filtering, paging, comparing
runs, model versions and prompt versions; and as a user who may read only one space."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.cards import Metric
from opsml.experiment import start_experiment
from opsml.server import create_app


def _run(space: str, name: str, accuracy: float, lr: float, steps: int = 3) -> str:
    with start_experiment(space=space, name=name) as exp:
        exp.log_parameters({"lr": lr, "optimizer": "adam" if lr < 0.05 else "sgd"})
        exp.log_metrics([Metric("loss", 1.0 / (s + 1), step=s) for s in range(steps)])
        exp.log_eval_metrics({"accuracy": accuracy})
    return str(exp.uid)


@pytest.fixture
def runs(sqlite_registry_env: Path) -> dict[str, str]:
    return {
        "a1": _run("team-a", "churn", 0.81, 0.1),
        "a2": _run("team-a", "churn", 0.93, 0.01),
        "a3": _run("team-a", "ranker", 0.87, 0.001),
        "b1": _run("team-b", "churn", 0.99, 0.1),
    }


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr data-uid="([^"]+)">', page)


def _cells(page: str, uid: str) -> list[str]:
    row = re.search(rf'<tr data-uid="{uid}">(.*?)</tr>', page, re.DOTALL)
    assert row is not None
    return [unescape(c) for c in re.findall(r"<td[^>]*>(?:<[^>]+>)*([^<]*)", row.group(1))]


def test_runs_table_sorts_by_a_metric_with_chosen_columns(runs: dict[str, str]) -> None:
    client = TestClient(create_app(), base_url="http://localhost")
    url = "/ui/runs?space=team-a&metrics=accuracy&params=lr,optimizer&sort=metric:accuracy:latest"
    page = client.get(url).text
    assert _rows(page) == [runs["a2"], runs["a3"], runs["a1"]]
    cells = _cells(page, runs["a2"])
    assert "completed" in cells
    assert cells[-5:] == ["0.01", "adam", "0.93", "0.93", "0.93"]
    # The column choice stays in the links that sort and in the form.
    assert 'value="accuracy"' in page
    assert "params=lr%2Coptimizer" in page
    ascending = client.get(url + "&order=asc").text
    assert _rows(ascending) == [runs["a1"], runs["a3"], runs["a2"]]
    assert 'aria-sort="ascending"' in ascending


def test_runs_table_filters_scopes_and_pages(runs: dict[str, str]) -> None:
    client = TestClient(create_app(), base_url="http://localhost")
    one_name = client.get("/ui/runs?space=team-a&name=churn").text
    assert set(_rows(one_name)) == {runs["a1"], runs["a2"]}
    churn_everywhere = client.get("/ui/runs?name=churn").text
    assert set(_rows(churn_everywhere)) == {runs["a1"], runs["a2"], runs["b1"]}
    everywhere = client.get("/ui/runs").text
    assert set(_rows(everywhere)) == set(runs.values())
    filtered = client.get(
        "/ui/runs", params={"space": "team-a", "q": "metrics.accuracy > 0.85 and params.lr < 0.05"}
    ).text
    assert set(_rows(filtered)) == {runs["a2"], runs["a3"]}
    bad = client.get("/ui/runs", params={"space": "team-a", "q": "accuracy > 1"})
    assert bad.status_code == 200
    assert "cannot read filter clause" in bad.text
    assert _rows(bad.text) == []
    assert "cursor" in client.get("/ui/runs?space=team-a&after=zzz").text


def test_runs_table_pages_with_a_cursor(sqlite_registry_env: Path) -> None:
    with start_experiment(space="lab", name="seed") as exp:
        exp.log_metric("loss", 0.0)
    registry = CardRegistry(RegistryType.Experiment)
    seed = registry.load_card(uid=exp.uid)
    for _ in range(55):  # versions of one run, each with its own loss
        with start_experiment(space="lab", name="sweep") as run:
            run.log_metric("loss", float(len(registry.list_cards(space="lab", limit=100))))
    del seed
    client = TestClient(create_app(), base_url="http://localhost")
    first = client.get("/ui/runs?space=lab&sort=metric:loss:latest&order=asc").text
    assert len(_rows(first)) == 50
    link = re.search(r'<a rel="next" href="([^"]+)"', first)
    assert link is not None
    second = client.get(unescape(link.group(1))).text
    assert len(_rows(second)) == 6
    assert not set(_rows(first)) & set(_rows(second))
    assert 'rel="next"' not in second


def test_compare_runs_highlights_differences(runs: dict[str, str]) -> None:
    client = TestClient(create_app(), base_url="http://localhost")
    page = client.get(
        "/ui/compare/experiment", params=[("uid", runs["a1"]), ("uid", runs["a3"])]
    ).text
    lr = re.search(r'<tr class="differs"><th scope="row">lr</th>(.*?)</tr>', page)
    assert lr is not None
    assert "differs" in lr.group(1)
    loss = re.search(r'<tr><th scope="row">loss</th>(.*?)</tr>', page)
    assert loss is not None  # same final loss: not highlighted
    assert "svg class='chart parallel'" in page
    assert page.count("data-series=") >= 4  # two runs on the loss chart and the parallel one
    assert 'data-metric="loss"' in page
    assert "churn v" in page  # names differ: labels carry them
    assert "ranker v" in page


def test_compare_models_and_prompts(sqlite_registry_env: Path) -> None:
    prompts = CardRegistry(RegistryType.Prompt)
    old = PromptCard(prompt=Prompt(message="Hello ${name}.\nBe brief."), space="p", name="hi")
    new = PromptCard(prompt=Prompt(message="Hello ${name}.\nBe kind."), space="p", name="hi")
    prompts.register_card(old)
    prompts.register_card(new)
    client = TestClient(create_app(), base_url="http://localhost")
    page = client.get("/ui/compare/prompt", params=[("uid", old.uid), ("uid", new.uid)]).text
    assert '<del class="diff-del">- Be brief.</del>' in page
    assert '<ins class="diff-ins">+ Be kind.</ins>' in page
    assert '<span class="diff-same">  Hello ${name}.</span>' in page
    single = client.get("/ui/compare/prompt", params={"uid": old.uid})
    assert single.status_code == 422
    assert "at least two" in single.text
    assert client.get("/ui/compare/data", params={"uid": old.uid}).status_code == 422


def _model(space: str, run_space: str, depth: int, accuracy: float) -> str:
    import pandas as pd
    from sklearn.tree import DecisionTreeRegressor

    from opsml import ModelCard, SklearnModel

    frame = pd.DataFrame({"x": [float(i) for i in range(20)], "y": [i % 3 for i in range(20)]})
    features = frame[["x"]] if depth < 3 else frame[["x", "y"]]
    interface = SklearnModel(
        model=DecisionTreeRegressor(max_depth=depth).fit(features, frame["y"]),
        sample_data=features,
    )
    card = ModelCard(interface=interface, space=space, name="tree")
    with start_experiment(space=run_space, name="trees") as exp:
        exp.log_eval_metrics({"accuracy": accuracy})
        exp.register_card(card)
    return str(card.uid)


def test_compare_model_versions_with_their_runs(
    sqlite_registry_env: Path, ui_login: Callable[[str], TestClient]
) -> None:
    shallow = _model("team-a", "team-a", 2, 0.71)
    deep = _model("team-a", "team-b", 4, 0.97)
    url = "/ui/compare/model"
    params = [("uid", shallow), ("uid", deep)]
    page = unescape(
        TestClient(create_app(), base_url="http://localhost").get(url, params=params).text
    )
    assert re.search(
        r'<tr class="differs"><th scope="row">max_depth</th><td class="num">2</td>'
        r'<td class="num">4</td>',
        page,
    )
    assert re.search(r'<tr class="differs"><th scope="row">y</th><td class="num">—</td>', page)
    assert re.search(
        r'<th scope="row">accuracy</th><td class="num">0.71</td><td class="num">0.97', page
    )
    # A reader of team-a compares the models but not team-b's run behind one of them.
    reader = unescape(ui_login("bob").get(url, params=params).text)
    assert "max_depth" in reader
    assert "0.71" in reader
    assert "0.97" not in reader
    assert "1 producing run(s) are in spaces you cannot read" in reader


def test_a_reader_of_one_space_sees_and_compares_only_its_runs(
    runs: dict[str, str], ui_login: Callable[[str], TestClient]
) -> None:
    reader = ui_login("bob")
    assert set(_rows(reader.get("/ui/runs").text)) == {runs["a1"], runs["a2"], runs["a3"]}
    assert set(_rows(reader.get("/ui/runs?name=churn").text)) == {runs["a1"], runs["a2"]}
    by_metric = reader.get("/ui/runs?metrics=accuracy&sort=metric:accuracy:latest").text
    assert runs["b1"] not in by_metric
    assert "team-b" not in by_metric
    assert reader.get("/ui/runs?space=team-b").status_code == 403
    mixed = reader.get(
        "/ui/compare/experiment",
        params=[("uid", runs["a1"]), ("uid", runs["a2"]), ("uid", runs["b1"])],
    )
    assert mixed.status_code == 200
    assert "1 of the cards asked for are unknown or not readable" in mixed.text
    assert runs["b1"] not in mixed.text
    assert "0.99" not in mixed.text
    refused = reader.get(
        "/ui/compare/experiment", params=[("uid", runs["a1"]), ("uid", runs["b1"])]
    )
    assert refused.status_code == 422
    assert runs["b1"] not in refused.text
    anonymous = TestClient(reader.app, base_url="http://localhost")
    assert anonymous.get("/ui/runs").status_code == 401
    assert (
        anonymous.get(
            "/ui/compare/experiment", params=[("uid", runs["a1"]), ("uid", runs["a2"])]
        ).status_code
        == 401
    )
    admin = ui_login("ada")
    assert runs["b1"] in admin.get("/ui/runs").text


def test_model_page_shows_the_metrics_of_its_run(
    sqlite_registry_env: Path, ui_login: Callable[[str], TestClient]
) -> None:
    own = _model("team-a", "team-a", 2, 0.71)
    elsewhere = _model("team-a", "team-b", 3, 0.97)
    client = TestClient(create_app(), base_url="http://localhost")
    page = unescape(client.get(f"/ui/model/{own}").text)
    assert "Metrics of the run that produced it" in page
    assert '<tr><th scope="row">accuracy</th><td class="num">0.71</td>' in page
    reader = unescape(ui_login("bob").get(f"/ui/model/{elsewhere}").text)
    assert "Metrics of the run that produced it" not in reader
    assert "0.97" not in reader
