"""The metadata store knows its newest migration, so an up-to-date database is opened
without taking the migration lock."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import DBAPIError

import opsml.store._engine as engine_module
from opsml.errors import CardNotFoundError, InvalidArgumentError
from opsml.store import SqlStore
from opsml.store._engine import HEAD_REVISION
from opsml.types import RegistryType


def test_head_revision_is_the_newest_migration() -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(engine_module.__file__).parent / "migrations"))
    assert ScriptDirectory.from_config(cfg).get_heads() == [HEAD_REVISION]


SERVER_BACKENDS = [
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mysql", marks=pytest.mark.mysql),
]
_BACKEND_ID = {"postgres": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}
_KILL = {"postgres": "SELECT pg_terminate_backend({})", "mysql": "KILL {}"}


@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_a_connection_dropped_while_idle_is_replaced_before_use(
    backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    url: str = request.getfixturevalue(f"empty_{backend}_url")
    engine = engine_module._create(url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")

    def pooled_then_killed() -> int:
        with engine.connect() as conn:
            pid = int(conn.execute(text(_BACKEND_ID[backend])).scalar_one())
        with admin.connect() as conn:  # the database drops the pooled connection
            conn.execute(text(_KILL[backend].format(pid)))
        return pid

    try:
        # Used a moment ago: handed out without a ping, so the dead connection shows.
        pooled_then_killed()
        with pytest.raises(DBAPIError), engine.connect() as conn:
            conn.execute(text("SELECT 1"))

        # Idle for longer than the threshold: pinged, replaced, the statement runs.
        monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 0.0)
        killed = pooled_then_killed()
        with engine.connect() as conn:
            assert int(conn.execute(text(_BACKEND_ID[backend])).scalar_one()) != killed
    finally:
        engine.dispose()
        admin.dispose()


@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_a_card_read_survives_connections_the_database_dropped(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """The hot read path (a card by uid) runs again on a fresh connection when the pooled
    one it got was dropped, even one used a moment ago (no ping): the caller sees the
    answer, not the restart."""
    url: str = request.getfixturevalue(f"{backend}_url")
    store = SqlStore.from_url(url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with pytest.raises(CardNotFoundError):
            store.get(RegistryType.Model, "01900000-0000-7000-8000-000000000000")
        with admin.connect() as conn:  # every pooled connection of the store goes away
            for (pid,) in conn.execute(text(_OTHERS[backend])).all():
                conn.execute(text(_KILL[backend].format(pid)))
        with pytest.raises(CardNotFoundError):  # an answer, not a MetadataStoreError
            store.get(RegistryType.Model, "01900000-0000-7000-8000-000000000000")
    finally:
        store.close()
        admin.dispose()


_OTHERS = {
    "postgres": "SELECT pid FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    "mysql": "SELECT id FROM information_schema.processlist "
    "WHERE db = DATABASE() AND id <> CONNECTION_ID()",
}


@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_the_pool_keeps_its_connections_under_load(
    backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OPSML_DB_POOL_SIZE connections at most, opened once and kept: readers beyond it
    wait for one instead of opening (and closing) connections of their own."""
    url: str = request.getfixturevalue(f"empty_{backend}_url")
    monkeypatch.setenv("OPSML_DB_POOL_SIZE", "3")
    engine = engine_module._create(url)
    seen: set[int] = set()
    lock = threading.Lock()

    def reader() -> None:
        for _ in range(15):
            with engine.connect() as conn:
                pid = int(conn.execute(text(_BACKEND_ID[backend])).scalar_one())
            with lock:
                seen.add(pid)

    threads = [threading.Thread(target=reader) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        engine.dispose()
    assert 1 <= len(seen) <= 3, seen


def test_a_bad_pool_size_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("0", "-2", "many", "1001"):
        monkeypatch.setenv("OPSML_DB_POOL_SIZE", bad)
        with pytest.raises(InvalidArgumentError, match="OPSML_DB_POOL_SIZE"):
            engine_module._pool_size()


@pytest.mark.postgres
def test_a_prepared_read_on_postgresql_leaves_its_connection_as_it_found_it(
    empty_postgres_url: str,
) -> None:
    """A prepared read runs in autocommit mode (no BEGIN, no ROLLBACK at check-in: one
    round trip), and the connection goes back to the pool idle with autocommit off, so the
    next user's transaction is still a transaction."""
    from sqlalchemy import bindparam, column, func, select
    from sqlalchemy import table as sql_table

    from opsml.store._prepared import PreparedRead

    engine = engine_module._create(empty_postgres_url)
    engine.pool.dispose()
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (k integer)"))
        t = sql_table("t", column("k"))
        read = PreparedRead(engine, select(t.c.k).where(t.c.k == bindparam("k")))
        seen: list[bool] = []

        @event.listens_for(engine, "checkin")
        def _checkin(dbapi_connection: Any, _record: Any) -> None:
            seen.append(bool(dbapi_connection.autocommit))

        assert read.run({"k": 1}) == []
        assert seen == [False]
        # In autocommit the statement is its own transaction: it starts when the statement
        # does (after a separate BEGIN, now() would be the earlier BEGIN's time).
        same = PreparedRead(engine, select((func.now() == func.statement_timestamp()).label("s")))
        assert same.run()[0].s is True
        raw = engine.raw_connection()
        try:
            assert raw.dbapi_connection is not None
            assert raw.dbapi_connection.info.transaction_status == 0  # idle
        finally:
            raw.close()
        with engine.connect() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            conn.rollback()  # a transaction: the insert is undone
        assert read.run({"k": 1}) == []
    finally:
        engine.dispose()
