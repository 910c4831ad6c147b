"""UI pages stay fast with 100 000 cards, and the runs table with 10 000 runs in a space:
every query a page runs is served by an index (SQLite's query plans are checked: no table
scan, no full sort). How fast they answer is
measured by ``benchmarks/ui_pages.py`` (timing belongs in benchmarks, not in tests)."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, insert
from sqlalchemy.pool import Pool

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.server import create_app
from opsml.settings import OpsmlConfig
from opsml.store import SqlStore
from opsml.store._schema import TAGS, card_table

CARDS = 100_000
_BAD_PLAN = re.compile(r"^SCAN \w+$|USE TEMP B-TREE FOR ORDER BY")

pytestmark = pytest.mark.slow


def _seed(template: PromptCard) -> None:
    """Copy one registered card's record 100 000 times: 1 000 names in 20 spaces."""
    store = SqlStore.from_url(OpsmlConfig.from_env().tracking_uri)
    table = card_table(RegistryType.Prompt)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows, tags = [], []
    for i in range(CARDS):
        uid = f"01900000-0000-7000-8000-{i:012d}"
        space, name, minor = f"space-{i % 20}", f"name-{i % 1000}", i // 1000
        rows.append(
            {
                "uid": uid, "space": space, "name": name, "version": f"1.{minor}.0",
                "major": 1, "minor": minor, "patch": 0, "pre_release": "", "build": "",
                "pre_key": "ff", "build_key": "", "status": "ok", "owner": None,
                "created_at": start + timedelta(seconds=i), "updated_at": start,
                "app_env": "development", "storage_path": f"x/{uid}",
                "opsml_version": "0", "tags": json.dumps([f"batch:{i % 7}"]),
                "card_json": template.model_dump_json(), "manifest_json": '{"files": {}}',
            }
        )  # fmt: skip
        tags.append({"registry": "prompt", "uid": uid, "tag": f"batch:{i % 7}"})
    with store.engine.begin() as conn:
        conn.execute(insert(table), rows)
        conn.execute(insert(TAGS), tags)


PAGES = [
    "/",
    "/ui/prompt",
    "/ui/prompt?after=01900000-0000-7000-8000-000000000060",
    "/ui/prompt?space=space-3",
    "/ui/prompt?space=space-3&name=name-503",
    "/ui/prompt?space=space-3&name=name-503&version=1.*&after=01900000-0000-7000-8000-000000010503",
    "/ui/prompt?tag=batch:3",
    "/ui/prompt?tag=batch:3&after=01900000-0000-7000-8000-000000000500",
    "/ui/prompt?version=%5E1.50",
    "/ui/spaces/space-7",
    "/ui/spaces/space-7?registry=prompt&after=name-500",
]


def test_list_pages_use_indexes_with_100k_cards(sqlite_registry_env: Path) -> None:
    template = PromptCard(prompt=Prompt(message="hi"), space="seed", name="seed")
    CardRegistry(RegistryType.Prompt).register_card(template)
    _seed(template)
    client = TestClient(create_app(), base_url="http://localhost")
    statements: list[str] = []

    def capture(statement: str) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)  # as SQLite runs it, its parameters written in

    def trace(dbapi_connection: sqlite3.Connection, *_: object) -> None:
        # Every statement, whether through SQLAlchemy or on a pooled cursor (the store's
        # compiled reads), on every connection the app checks out of its pool.
        dbapi_connection.set_trace_callback(capture)

    db_path = OpsmlConfig.from_env().tracking_uri.removeprefix("sqlite:///")
    event.listen(Pool, "checkout", trace)
    try:
        with sqlite3.connect(db_path) as db:
            for url in PAGES:
                statements.clear()
                response = client.get(url)
                assert response.status_code == 200, url
                assert "<tbody>" in response.text, url
                assert statements, f"{url} ran no query"
                for statement in statements:
                    plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {statement}")]
                    bad = [step for step in plan if _BAD_PLAN.search(step)]
                    assert not bad, f"{url}: {bad} in the plan of {statement}"
    finally:
        event.remove(Pool, "checkout", trace)


RUNS = 10_000
RUN_METRICS = 20


def _seed_runs() -> None:
    """10 000 runs of 50 experiment names in space ``lab`` (and 1 000 in ``other``), each
    with 20 summarised metrics and 3 parameters, written straight into the tables."""
    from opsml.store._experiment import PARAMETERS
    from opsml.store._runs import METRIC_SUMMARY
    from opsml.store._runs import RUNS as RUN_TABLE

    store = SqlStore.from_url(OpsmlConfig.from_env().tracking_uri)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    runs, summaries, params = [], [], []
    for i in range(RUNS + 1_000):
        uid = f"01900000-0000-7000-9000-{i:012d}"
        space, name = ("lab" if i < RUNS else "other"), f"exp-{i % 50}"
        status = ("completed", "failed", "running")[i % 3]
        runs.append(
            {
                "experiment_uid": uid, "space": space, "name": name, "version": f"1.{i}.0",
                "run_status": status, "started_at": start + timedelta(seconds=i),
                "ended_at": start + timedelta(seconds=i + i % 97) if status != "running" else None,
                "duration": float(i % 97) if status != "running" else -1.0,
                "username": f"user-{i % 5}",
            }
        )  # fmt: skip
        for m in range(RUN_METRICS):
            value = ((i * 7919 + m * 104729) % 10_007) / 10_007
            summaries.append(
                {
                    "experiment_uid": uid, "metric": f"metric-{m}", "space": space,
                    "run_name": name, "latest": value, "latest_step": 999, "latest_id": i,
                    "min": value / 2, "max": value * 2, "count": 1000,
                }
            )  # fmt: skip
        params.extend(
            {"experiment_uid": uid, "name": key, "value": json.dumps(value)}
            for key, value in (("lr", 10 ** -(i % 4)), ("depth", i % 12), ("opt", "adam"))
        )
    with store.engine.begin() as conn:
        conn.execute(insert(RUN_TABLE), runs)
        conn.execute(insert(METRIC_SUMMARY), summaries)
        conn.execute(insert(PARAMETERS), params)


_CURSOR_RUN = "01900000-0000-7000-9000-000000005000"
RUN_PAGES = [
    "/ui/runs?space=lab",
    "/ui/runs?space=lab&sort=duration&order=asc",
    "/ui/runs?space=lab&metrics=metric-3,metric-7&params=lr,depth&sort=metric:metric-3:latest",
    "/ui/runs?space=lab&metrics=metric-3&sort=metric:metric-3:min&order=asc",
    "/ui/runs?space=lab&name=exp-7&metrics=metric-1&sort=metric:metric-1:max",
    "/ui/runs?space=lab&name=exp-7&sort=started",
    "/ui/runs?space=lab&metrics=metric-3&q=metrics.metric-5+%3E+0.5+and+params.lr+%3C+0.05"
    "+and+status+%3D+completed&sort=metric:metric-3:latest",
    "/ui/runs",
    "/ui/runs?name=exp-3&sort=duration",
    "/ui/runs?metrics=metric-2&sort=metric:metric-2:latest",
]


def _next_page_url(client: TestClient, url: str) -> str:
    """The page's own "Next page" link (a keyset cursor)."""
    match = re.search(r'<a rel="next" href="([^"]+)"', client.get(url).text)
    assert match is not None, url
    return match.group(1).replace("&amp;", "&")


def test_runs_table_uses_indexes_with_10k_runs(sqlite_registry_env: Path) -> None:
    from opsml.experiment import start_experiment

    with start_experiment(space="seed", name="seed") as exp:
        exp.log_metric("metric-0", 1.0)
    _seed_runs()
    client = TestClient(create_app(), base_url="http://localhost")
    pages = [*RUN_PAGES, *(_next_page_url(client, url) for url in RUN_PAGES[:5])]
    statements: list[str] = []

    def capture(statement: str) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    def trace(dbapi_connection: sqlite3.Connection, *_: object) -> None:
        dbapi_connection.set_trace_callback(capture)

    db_path = OpsmlConfig.from_env().tracking_uri.removeprefix("sqlite:///")
    event.listen(Pool, "checkout", trace)
    try:
        with sqlite3.connect(db_path) as db:
            for url in pages:
                statements.clear()
                response = client.get(url)
                assert response.status_code == 200, url
                assert response.text.count("<tr data-uid=") == 50, url
                assert 'role="alert"' not in response.text, url
                assert any("opsml_experiment_runs" in s for s in statements), url
                for statement in statements:
                    plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {statement}")]
                    bad = [step for step in plan if _BAD_PLAN.search(step)]
                    assert not bad, f"{url}: {bad} in the plan of {statement}"
    finally:
        event.remove(Pool, "checkout", trace)
