"""The run and metric summary tables follow what experiments log, and a runs page sorts,
filters and pages correctly on every database (SQLite, PostgreSQL, MariaDB)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import delete, select

import opsml.store._engine as engine_module
from opsml import CardRegistry, RegistryType
from opsml.errors import InvalidArgumentError
from opsml.experiment import Metric, start_experiment
from opsml.registry import close_backends
from opsml.settings import OpsmlConfig
from opsml.store import SqlStore
from opsml.store._runs import (
    METRIC_SUMMARY,
    RUNS,
    SortKey,
    parse_run_filter,
    run_summaries,
    runs_page,
)


def _store() -> SqlStore:
    return SqlStore.from_url(OpsmlConfig.from_env().tracking_uri)


def _run(space: str, name: str, loss: list[tuple[int, float]], **params: object) -> str:
    with start_experiment(space=space, name=name) as exp:
        exp.log_metrics([Metric("loss", value, step=step) for step, value in loss])
        if params:
            exp.log_parameters(dict(params))
    return str(exp.uid)


def test_summaries_follow_logged_points(local_registry_env: Path) -> None:
    with start_experiment(space="lab", name="fit") as exp:
        exp.log_metrics([Metric("loss", 0.9, step=1), Metric("loss", 0.5, step=3)])
        exp.flush()
        # A later batch with an earlier step: the latest value stays the one at step 3.
        exp.log_metrics([Metric("loss", 0.1, step=2), Metric("loss", 0.7, step=3)])
        exp.log_eval_metrics({"accuracy": 0.93})
    store = _store()
    runs, summaries = run_summaries(store, [str(exp.uid)])
    loss = summaries[str(exp.uid)]["loss"]
    assert (loss.latest, loss.min, loss.max, loss.count) == (0.7, 0.1, 0.9, 4)
    assert summaries[str(exp.uid)]["accuracy"].latest == 0.93
    run = runs[str(exp.uid)]
    assert run.status == "completed"
    assert run.duration is not None
    assert run.duration >= 0
    assert run.user  # the OS user in local mode


def test_failed_status_renames_and_deletes_reach_the_tables(local_registry_env: Path) -> None:
    def fail() -> str:
        with start_experiment(space="lab", name="boom") as exp:
            exp.log_metric("loss", 1.0)
            raise ZeroDivisionError(str(exp.uid))

    with pytest.raises(ZeroDivisionError) as failure:
        fail()
    store = _store()
    uid = str(failure.value)
    assert run_summaries(store, [uid])[0][uid].status == "failed"

    registry = CardRegistry(RegistryType.Experiment)
    card = registry.load_card(uid=uid)
    card.space = "lab2"
    registry.update_card(card)
    page = runs_page(store, space="lab2", name=None, spaces=None, sort=SortKey("metric", "loss"))
    assert [r.uid for r in page.runs] == [uid]
    assert runs_page(store, space="lab", name=None, spaces=None, sort=SortKey()).runs == []

    registry.delete_card(card)
    with store.engine.connect() as conn:
        assert conn.execute(select(RUNS).where(RUNS.c.experiment_uid == uid)).first() is None
        assert (
            conn.execute(
                select(METRIC_SUMMARY).where(METRIC_SUMMARY.c.experiment_uid == uid)
            ).first()
            is None
        )


def test_pages_sort_filter_and_continue(local_registry_env: Path) -> None:
    uids = [
        _run("lab", f"exp-{i % 2}", [(0, 1.0), (9, value)], lr=lr, opt=opt)
        for i, (value, lr, opt) in enumerate(
            [(0.3, 0.1, "adam"), (0.1, 0.01, "sgd"), (0.3, 0.001, "adam"), (0.2, 0.1, "sgd")]
        )
    ]
    _run("elsewhere", "exp-0", [(0, 0.0)])
    store = _store()
    by_loss = SortKey.parse("metric:loss:latest", "asc")
    seen: list[str] = []
    cursor = None
    while True:
        page = runs_page(
            store,
            space="lab",
            name=None,
            spaces=None,
            sort=by_loss,
            metrics=["loss"],
            params=["lr"],
            after=cursor,
            limit=1,
        )
        seen.extend(r.uid for r in page.runs)
        cursor = page.next_cursor
        if cursor is None:
            break
    # Ties on the value (0.3 twice) are broken by uid, and no run is seen twice.
    assert seen == [uids[1], uids[3], *sorted([uids[0], uids[2]])]
    first = runs_page(store, space="lab", name=None, spaces=None, sort=by_loss, metrics=["loss"])
    assert first.runs[0].metrics["loss"].latest == 0.1
    assert first.runs[0].metrics["loss"].max == 1.0

    def matching(text: str, **kwargs: object) -> set[str]:
        page = runs_page(
            store,
            space=kwargs.get("space", "lab"),  # type: ignore[arg-type]
            name=kwargs.get("name"),  # type: ignore[arg-type]
            spaces=kwargs.get("spaces"),  # type: ignore[arg-type]
            sort=SortKey(),
            run_filter=parse_run_filter(text),
        )
        return {r.uid for r in page.runs}

    assert matching("metrics.loss < 0.25") == {uids[1], uids[3]}
    assert matching("params.opt = adam and params.lr >= 0.01") == {uids[0]}
    assert matching("params.opt != 'adam'") == {uids[1], uids[3]}
    assert matching("status = completed", name="exp-1") == {uids[1], uids[3]}
    assert matching("", space=None, spaces=("lab",)) == set(uids)
    assert matching("", space=None, spaces=()) == set()
    assert len(matching("", space=None)) == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("loss > 1", "cannot read filter clause"),
        ("metrics.loss > high", "compared with a number"),
        ("params.opt > adam", "only = and != compare text"),
        ("status > done", "status takes = or !="),
    ],
)
def test_bad_filters_are_explained(text: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        parse_run_filter(text)


def test_bad_sorts_and_cursors_are_refused(sqlite_registry_env: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="sort must be"):
        SortKey.parse("name")
    with pytest.raises(InvalidArgumentError, match="order must be"):
        SortKey.parse("started", "up")
    assert SortKey.parse("metric:a:b:min") == SortKey("min", "a:b")
    assert SortKey.parse("metric:val:loss") == SortKey("latest", "val:loss")
    with pytest.raises(InvalidArgumentError, match="cursor"):
        runs_page(_store(), space="x", name=None, spaces=None, sort=SortKey(), after="nope")


def test_the_migration_fills_the_tables_from_existing_runs(sqlite_registry_env: Path) -> None:
    uid = _run("lab", "old", [(0, 0.5), (1, 0.25)], lr=0.1)
    store = _store()
    with store.engine.begin() as conn:  # as a database of revision 0007 holds it
        conn.execute(delete(METRIC_SUMMARY))
        conn.execute(delete(RUNS))
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(engine_module.__file__).parent / "migrations"))
    with store.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
        command.upgrade(cfg, "head")
        conn.commit()
    close_backends()
    runs, summaries = run_summaries(_store(), [uid])
    assert runs[uid].status == "completed"
    loss = summaries[uid]["loss"]
    assert (loss.latest, loss.min, loss.max, loss.count) == (0.25, 0.25, 0.5, 2)


def test_the_run_user_is_the_server_login_or_the_os_login() -> None:
    import getpass

    from opsml.registry._local import _username

    assert _username("user:ada") == "ada"
    assert _username("host:123") == getpass.getuser()


def test_concurrent_writers_of_one_run_keep_every_point(local_registry_env: Path) -> None:
    """Several processes logging to one run at once (distributed training workers): every
    point counts in its summary, none is refused as a duplicate summary row."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from opsml.store._experiment import ExperimentStore

    writers, rounds, per_batch = 4, 8, 5
    together = threading.Barrier(writers)
    with start_experiment(space="lab", name="ddp") as exp:
        uid = str(exp.uid)
        tracking = ExperimentStore(_store())

        def write(worker: int) -> None:
            for metric in range(rounds):  # each round, every writer starts a new metric
                rows = [
                    {
                        "name": f"loss-{metric}",
                        "value": float(worker * per_batch + i),
                        "step": worker * per_batch + i,
                        "timestamp": 0,
                        "is_eval": False,
                    }
                    for i in range(per_batch)
                ]
                together.wait(timeout=60)
                tracking.add_metrics(uid, rows)

        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(write, range(writers)))
    _, summaries = run_summaries(_store(), [uid])
    for metric in range(rounds):
        summary = summaries[uid][f"loss-{metric}"]
        assert summary.count == writers * per_batch
        assert (summary.min, summary.max) == (0.0, float(writers * per_batch - 1))
        assert summary.latest == summary.max  # the highest step holds the highest value
