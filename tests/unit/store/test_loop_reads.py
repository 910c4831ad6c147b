"""Reads by key awaited on the event loop (PostgreSQL): the same answers as the engine's
own reads, a bounded number of connections, waiters served in order, and recovery from
connections the database dropped or a client abandoned."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import create_engine, func, select, text

import opsml.store._loop_reads as loop_reads_module
from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.errors import CardNotFoundError, InvalidArgumentError, MetadataStoreError
from opsml.store import LoopReads, SqlStore
from opsml.store._prepared import PreparedRead

MISSING = "01900000-0000-7000-8000-000000000000"
T = TypeVar("T")


@pytest.fixture
def pg_store(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[SqlStore, PromptCard]]:
    """A PostgreSQL registry holding one prompt card, and a store on it."""
    monkeypatch.setenv("OPSML_TRACKING_URI", postgres_url)
    monkeypatch.setenv("OPSML_STORAGE_URI", str(tmp_path / "registries"))
    card = PromptCard(prompt=Prompt(message="hello"), space="team", name="greeting")
    CardRegistry(RegistryType.Prompt).register_card(card)
    store = SqlStore.from_url(postgres_url)
    try:
        yield store, card
    finally:
        store.close()


@pytest.fixture
def open_reads() -> Iterator[Callable[..., LoopReads]]:
    """Makes the loop reads of a store, closed when the test ends (whatever happens)."""
    made: list[LoopReads] = []

    def make(store: SqlStore, size: int = 4) -> LoopReads:
        reads = LoopReads.for_engine(store.engine, size)
        assert reads is not None
        made.append(reads)
        return reads

    yield make
    for reads in made:
        reads.close()


def _sleep(store: SqlStore, seconds: float) -> PreparedRead:
    """A read that takes ``seconds`` in the database."""
    return PreparedRead(store.engine, select(func.pg_sleep(seconds).label("slept")))


def _backends(store: SqlStore) -> list[int]:
    """The PostgreSQL backends connected to the store's database, other than this query's."""
    admin = create_engine(store.engine.url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
            ).all()
    finally:
        admin.dispose()
    return [int(pid) for (pid,) in rows]


def _run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` in a thread of its own: the suite's session-wide Playwright
    (its sync API) keeps an event loop running in a test process's main thread once a
    browser test ran there, and ``asyncio.run`` refuses to start beside it."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main).result()


def _gone(pids: set[int], store: SqlStore) -> bool:
    """Whether none of the backends ``pids`` is connected any more (a closed connection's
    backend exits a moment later)."""
    deadline = time.monotonic() + 5
    while not pids.isdisjoint(_backends(store)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _pids(reads: LoopReads) -> set[int]:
    """The backend process ids of the loop's open connections."""
    return {int(held.connection.info.backend_pid) for held in reads._live}


def test_only_postgresql_gets_loop_reads(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SqlStore.from_url(sqlite_url)
    try:
        assert LoopReads.for_engine(store.engine) is None  # SQLite reads on the loop anyway
    finally:
        store.close()
    for bad in ("-1", "many", "1001", "2.5"):
        monkeypatch.setenv("OPSML_DB_LOOP_CONNECTIONS", bad)
        with pytest.raises(InvalidArgumentError, match="OPSML_DB_LOOP_CONNECTIONS"):
            loop_reads_module.loop_connections()
    monkeypatch.setenv("OPSML_DB_LOOP_CONNECTIONS", "7")
    assert loop_reads_module.loop_connections() == 7
    monkeypatch.delenv("OPSML_DB_LOOP_CONNECTIONS")
    assert loop_reads_module.loop_connections() == 4


@pytest.mark.postgres
def test_a_loop_read_answers_what_the_engine_read_answers(
    pg_store: tuple[SqlStore, PromptCard],
    monkeypatch: pytest.MonkeyPatch,
    open_reads: Callable[..., LoopReads],
) -> None:
    store, card = pg_store
    monkeypatch.setenv("OPSML_DB_LOOP_CONNECTIONS", "0")
    assert LoopReads.for_engine(store.engine) is None  # turned off
    reads = open_reads(store)

    async def main() -> None:
        for _ in range(7):  # past psycopg's threshold for server-side prepared statements
            row = await store.get_on_loop(reads, RegistryType.Prompt, str(card.uid))
            assert row == store.get(RegistryType.Prompt, str(card.uid))
            assert row.created_at.tzinfo is not None
            assert row.space == "team"
        with pytest.raises(CardNotFoundError, match=MISSING):
            await store.get_on_loop(reads, RegistryType.Prompt, MISSING)
        with pytest.raises(CardNotFoundError):  # another registry
            await store.get_on_loop(reads, RegistryType.Model, str(card.uid))

    _run(main())
    assert reads.open_connections() == 1  # reads one after another share one connection
    reads.close()
    assert reads.open_connections() == 0


@pytest.mark.postgres
def test_pending_cards_are_read_only_when_asked_for(
    pg_store: tuple[SqlStore, PromptCard], open_reads: Callable[..., LoopReads]
) -> None:
    store, card = pg_store
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE opsml_prompt_registry SET status = 'pending'"))
    reads = open_reads(store)

    async def main() -> None:
        with pytest.raises(CardNotFoundError):
            await store.get_on_loop(reads, RegistryType.Prompt, str(card.uid))
        row = await store.get_on_loop(
            reads, RegistryType.Prompt, str(card.uid), include_pending=True
        )
        assert row.status == "pending"

    _run(main())
    reads.close()


@pytest.mark.postgres
def test_connections_are_bounded_and_waiters_served_in_order(
    pg_store: tuple[SqlStore, PromptCard], open_reads: Callable[..., LoopReads]
) -> None:
    store, _ = pg_store
    reads = open_reads(store, size=2)
    slow = _sleep(store, 0.05)
    finished: list[int] = []

    async def one(index: int) -> None:
        await reads.run(slow)
        finished.append(index)

    async def main() -> None:
        tasks = []
        for index in range(8):
            tasks.append(asyncio.create_task(one(index)))
            await asyncio.sleep(0.002)  # each asks after the one before
        await asyncio.gather(*tasks)

    _run(main())
    assert reads.open_connections() == 2
    # two at a time, in the order they asked: pairs finish in order
    assert [sorted(finished[i : i + 2]) for i in range(0, 8, 2)] == [
        [0, 1],
        [2, 3],
        [4, 5],
        [6, 7],
    ]
    assert _pids(reads) <= set(_backends(store))
    reads.close()
    assert not _pids(reads)
    assert reads.open_connections() == 0


@pytest.mark.postgres
def test_a_read_survives_connections_the_database_dropped(
    pg_store: tuple[SqlStore, PromptCard], open_reads: Callable[..., LoopReads]
) -> None:
    store, card = pg_store
    reads = open_reads(store, size=3)
    uid = str(card.uid)

    async def main() -> None:
        # three connections open and idle
        await asyncio.gather(*(reads.run(_sleep(store, 0.02)) for _ in range(3)))
        assert reads.open_connections() == 3
        admin = create_engine(store.engine.url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:  # a restart, as the loop's connections see it
                for pid in _pids(reads):
                    conn.execute(text(f"SELECT pg_terminate_backend({pid})"))
        finally:
            admin.dispose()
        row = await store.get_on_loop(reads, RegistryType.Prompt, uid)
        assert row.uid == uid  # an answer, not a MetadataStoreError
        # every connection older than the failure is replaced, not tried one by one
        assert reads.open_connections() == 1

    _run(main())
    reads.close()


@pytest.mark.postgres
def test_a_database_error_is_a_store_error_and_the_connection_is_kept(
    pg_store: tuple[SqlStore, PromptCard], open_reads: Callable[..., LoopReads]
) -> None:
    store, card = pg_store
    reads = open_reads(store)
    broken = PreparedRead(store.engine, select(text("1/0 AS boom")))

    async def main() -> None:
        with pytest.raises(Exception, match="division by zero"):
            await reads.run(broken)
        assert reads.open_connections() == 1
        row = await store.get_on_loop(reads, RegistryType.Prompt, str(card.uid))
        assert row.name == "greeting"
        assert reads.open_connections() == 1  # the same connection, still usable

    _run(main())
    reads.close()


@pytest.mark.postgres
def test_an_unreachable_database_is_a_store_error(
    postgres_url: str, open_reads: Callable[..., LoopReads]
) -> None:
    # the port of nothing: refused at once
    engine = create_engine(postgres_url.replace(":5432/", ":9/"))
    store = SqlStore(engine)
    reads = open_reads(store)

    async def main() -> None:
        with pytest.raises(MetadataStoreError) as raised:
            await store.get_on_loop(reads, RegistryType.Prompt, MISSING)
        assert "reading card" in str(raised.value)

    _run(main())
    assert reads.open_connections() == 0
    engine.dispose()


@pytest.mark.postgres
def test_a_cancelled_read_closes_its_connection_and_frees_its_place(
    pg_store: tuple[SqlStore, PromptCard], open_reads: Callable[..., LoopReads]
) -> None:
    store, card = pg_store
    reads = open_reads(store, size=1)

    async def main() -> None:
        running = asyncio.create_task(reads.run(_sleep(store, 5)))
        await asyncio.sleep(0.3)
        waiting = asyncio.create_task(store.get_on_loop(reads, RegistryType.Prompt, str(card.uid)))
        await asyncio.sleep(0.05)
        running.cancel()  # a client that went away mid-read
        with pytest.raises(asyncio.CancelledError):
            await running
        # the waiter gets the place, on a new connection, well before the sleep would end
        row = await asyncio.wait_for(waiting, 3)
        assert row.name == "greeting"
        assert reads.open_connections() == 1

    _run(main())
    reads.close()


@pytest.mark.postgres
def test_a_cancelled_waiter_leaves_the_line(
    pg_store: tuple[SqlStore, PromptCard], open_reads: Callable[..., LoopReads]
) -> None:
    store, card = pg_store
    reads = open_reads(store, size=1)

    async def main() -> None:
        running = asyncio.create_task(reads.run(_sleep(store, 0.3)))
        await asyncio.sleep(0.1)
        gone = asyncio.create_task(reads.run(_sleep(store, 0)))
        after = asyncio.create_task(store.get_on_loop(reads, RegistryType.Prompt, str(card.uid)))
        await asyncio.sleep(0.05)
        gone.cancel()
        await running
        row = await asyncio.wait_for(after, 3)
        assert row.name == "greeting"
        assert reads.open_connections() == 1

    _run(main())
    reads.close()


@pytest.mark.postgres
def test_connections_follow_the_event_loop_and_are_recycled(
    pg_store: tuple[SqlStore, PromptCard],
    monkeypatch: pytest.MonkeyPatch,
    open_reads: Callable[..., LoopReads],
) -> None:
    store, card = pg_store
    reads = open_reads(store)
    uid = str(card.uid)

    async def read() -> str:
        row = await store.get_on_loop(reads, RegistryType.Prompt, uid)
        return str(row.uid)

    assert _run(read()) == uid
    first = _pids(reads)
    assert _run(read()) == uid  # another loop: new connections, the old closed
    assert reads.open_connections() == 1
    assert first.isdisjoint(_pids(reads))
    assert _gone(first, store)  # the first loop's backend is gone

    monkeypatch.setattr(loop_reads_module, "RECYCLE_SECONDS", 0.5)

    async def twice() -> None:
        await read()
        before = _pids(reads)
        assert len(before) == 1
        await asyncio.sleep(0.6)
        await read()  # its connection is too old: replaced
        assert before.isdisjoint(_pids(reads))
        assert _gone(before, store)

    _run(twice())
    assert reads.open_connections() == 1
    reads.close()
