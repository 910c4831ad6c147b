"""Job leases: one replica at a time runs a job, once per interval, and a dead holder's
lease runs out."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from opsml.store import LeaseStore, SqlStore


@pytest.fixture
def stores(db_url: str) -> Iterator[Callable[[], SqlStore]]:
    """Stores on the test database (each with its engine: a replica), closed at the end."""
    opened: list[SqlStore] = []

    def open_store() -> SqlStore:
        opened.append(SqlStore.from_url(db_url))
        return opened[-1]

    yield open_store
    for store in opened:
        store.close()


def test_a_claimed_job_is_nobody_elses_until_released(stores: Callable[[], SqlStore]) -> None:
    leases = LeaseStore(stores())
    assert leases.get("gc") is None
    assert leases.claim("gc", "host-a:1", lease_seconds=60)
    assert not leases.claim("gc", "host-b:2", lease_seconds=60)  # held
    assert not leases.claim("gc", "host-a:1", lease_seconds=60)  # not even twice by a
    leases.finish("gc", "host-a:1", "ok", interval_seconds=3600)
    row = leases.get("gc")
    assert row is not None
    assert (row.holder, row.last_outcome) == ("host-a:1", "ok")
    assert row.next_run_at - row.last_finished_at == 3_600_000
    assert not leases.claim("gc", "host-b:2", lease_seconds=60)  # not due for an hour
    assert leases.claim("gc", "host-b:2", lease_seconds=60, now_ms=row.next_run_at)


def test_a_dead_holders_lease_runs_out(stores: Callable[[], SqlStore]) -> None:
    leases = LeaseStore(stores())
    assert leases.claim("gc", "host-a:1", lease_seconds=60, now_ms=1_000)
    assert not leases.claim("gc", "host-b:2", lease_seconds=60, now_ms=60_999)
    assert leases.claim("gc", "host-b:2", lease_seconds=60, now_ms=61_000)
    leases.finish("gc", "host-a:1", "ok", interval_seconds=10)  # too late: not a's any more
    row = leases.get("gc")
    assert row is not None
    assert (row.holder, row.last_outcome) == ("host-b:2", "")


def test_replicas_claiming_at_once_get_one_winner(stores: Callable[[], SqlStore]) -> None:
    replicas = [stores(), stores()]  # two replicas' engines
    start = threading.Barrier(8)
    won: list[str] = []

    def replica(n: int) -> None:
        leases = LeaseStore(replicas[n % 2])
        start.wait()
        if leases.claim("gc", f"host:{n}", lease_seconds=60):
            won.append(f"host:{n}")

    threads = [threading.Thread(target=replica, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    row = LeaseStore(replicas[0]).get("gc")
    assert row is not None
    assert row.holder == won[0]
