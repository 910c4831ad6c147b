"""Threads waiting for a database connection get one in the order they asked: none is
passed over by threads that came later, however busy the pool."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.util import queue as sqla_queue

import opsml.store._engine as engine_module
from opsml.store._fair_pool import FairQueue, FairQueuePool


def _wait_for_waiters(queue: FairQueue[int], count: int) -> None:
    deadline = time.monotonic() + 10
    while len(queue._waiters) < count:
        assert time.monotonic() < deadline, "the threads never started waiting"
        time.sleep(0.001)


def test_waiting_threads_are_served_in_the_order_they_came() -> None:
    queue: FairQueue[int] = FairQueue(maxsize=4)
    received: dict[int, int] = {}

    def take(index: int) -> None:
        received[index] = queue.get(timeout=10)

    threads = []
    for index in range(6):
        thread = threading.Thread(target=take, args=(index,))
        thread.start()
        _wait_for_waiters(queue, index + 1)  # each starts waiting after the one before
        threads.append(thread)
    for item in range(6):
        queue.put(item, block=False)  # item k goes to the k-th thread to wait
    for thread in threads:
        thread.join(10)
    assert received == {index: index for index in range(6)}


def test_a_newcomer_does_not_take_a_connection_meant_for_a_waiter() -> None:
    queue: FairQueue[str] = FairQueue(maxsize=1)
    got: list[str] = []
    waiter = threading.Thread(target=lambda: got.append(queue.get(timeout=10)))
    waiter.start()
    _wait_for_waiters(queue, 1)
    queue.put("conn", block=False)  # handed to the waiter, never left in the queue
    with pytest.raises(sqla_queue.Empty):
        queue.get(block=False)
    waiter.join(10)
    assert got == ["conn"]


def test_a_timed_out_waiter_leaves_the_line_and_nothing_is_lost() -> None:
    queue: FairQueue[str] = FairQueue(maxsize=2)
    started = time.monotonic()
    with pytest.raises(sqla_queue.Empty):
        queue.get(timeout=0.05)
    assert time.monotonic() - started >= 0.05
    assert not queue._waiters
    queue.put("conn", block=False)
    assert queue.get(block=False) == "conn"
    queue.put("a", block=False)
    queue.put("b", block=False)
    with pytest.raises(sqla_queue.Full):
        queue.put("c", block=False)
    with pytest.raises(ValueError, match="positive"):
        queue.get(timeout=-1)


def test_under_contention_no_thread_is_passed_over(tmp_path: Path) -> None:
    """8 threads, 2 connections, each thread checking out as fast as it can: every thread
    is served about equally (with SQLAlchemy's own queue a few threads take most turns)."""
    engine = engine_module._create(f"sqlite:///{tmp_path / 'db.sqlite'}")
    engine.dispose()
    pool = FairQueuePool(engine.pool._creator, pool_size=2, max_overflow=0, timeout=30)
    turns = [0] * 8
    stop = threading.Event()

    def worker(index: int) -> None:
        while not stop.is_set():
            record = pool.connect()
            turns[index] += 1
            time.sleep(0.0005)
            record.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join(10)
    pool.dispose()
    assert min(turns) >= 0.5 * max(turns), turns


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_engines_use_the_fair_pool(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'db.sqlite'}"
        if backend == "sqlite"
        else request.getfixturevalue("empty_postgres_url")
    )
    engine = engine_module._create(url)
    try:
        assert isinstance(engine.pool, FairQueuePool)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()
