"""Leases: which server replica runs a background job now, and when it is due next.

One row per job. A replica runs a job only after it claimed the row in one conditional
``UPDATE`` (the job is due and no unexpired lease is held), which at most one replica's
statement can win on any backend; it marks the run finished with the next due time when
done. A replica that dies mid-run holds its lease only until the lease expires; then
another replica takes the job over.

Times are whole milliseconds since 1970 (UTC) of the replicas' clocks; leases last minutes,
so clocks a few seconds apart do not matter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlalchemy.exc import SQLAlchemyError

from opsml.store._errors import store_error
from opsml.store._schema import METADATA, ascii_string
from opsml.store._store import SqlStore

__all__ = ["LEASES", "LeaseRow", "LeaseStore"]

LEASES = Table(
    "opsml_ops_leases",
    METADATA,
    Column("name", ascii_string(64), primary_key=True),
    Column("holder", ascii_string(255), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("next_run_at", BigInteger, nullable=False),
    Column("last_finished_at", BigInteger, nullable=False),
    Column("last_outcome", String(16), nullable=False),
)


@dataclass(frozen=True)
class LeaseRow:
    """A job's lease as stored.

    Attributes:
        name: The job.
        holder: The replica that claimed it last (``host:pid``).
        expires_at: Until when that claim holds (ms since 1970).
        next_run_at: When the job is due next (ms since 1970).
        last_finished_at: When a run last finished (0: never).
        last_outcome: ``ok``, ``error`` or empty (never run).
    """

    name: str
    holder: str
    expires_at: int
    next_run_at: int
    last_finished_at: int
    last_outcome: str


def _now_ms() -> int:
    return int(time.time() * 1000)


class LeaseStore:
    """Claim and release job leases in the metadata store.

    Args:
        store: The store whose database holds the leases.
    """

    def __init__(self, store: SqlStore) -> None:
        self.engine = store.engine

    def claim(self, job: str, holder: str, lease_seconds: float, now_ms: int | None = None) -> bool:
        """Take job ``job`` for ``holder`` if it is due and nobody holds it.

        Returns:
            Whether ``holder`` may run the job now (and must call :meth:`finish`).

        Raises:
            MetadataStoreError: The database failed.
        """
        now = _now_ms() if now_ms is None else now_ms
        try:
            self._ensure(job)
            with self.engine.connect().execution_options(sqlite_immediate=True) as conn:
                claimed = conn.execute(
                    update(LEASES)
                    .where(
                        LEASES.c.name == job,
                        LEASES.c.next_run_at <= now,
                        LEASES.c.expires_at <= now,
                    )
                    .values(holder=holder, expires_at=now + int(lease_seconds * 1000))
                )
                conn.commit()
                return claimed.rowcount == 1
        except SQLAlchemyError as exc:
            raise store_error(f"claiming job {job}", exc) from exc

    def finish(self, job: str, holder: str, outcome: str, interval_seconds: float) -> None:
        """Release ``holder``'s lease on ``job``: the job is due again ``interval_seconds``
        from now.

        Raises:
            MetadataStoreError: The database failed.
        """
        now = _now_ms()
        try:
            with self.engine.connect().execution_options(sqlite_immediate=True) as conn:
                conn.execute(
                    update(LEASES)
                    .where(LEASES.c.name == job, LEASES.c.holder == holder)
                    .values(
                        expires_at=now,
                        next_run_at=now + int(interval_seconds * 1000),
                        last_finished_at=now,
                        last_outcome=outcome[:16],
                    )
                )
                conn.commit()
        except SQLAlchemyError as exc:
            raise store_error(f"finishing job {job}", exc) from exc

    def get(self, job: str) -> LeaseRow | None:
        """The lease of ``job`` (``None``: it never ran anywhere).

        Raises:
            MetadataStoreError: The database failed.
        """
        try:
            with self.engine.connect().execution_options(sqlite_read=True) as conn:
                row = conn.execute(select(LEASES).where(LEASES.c.name == job)).first()
        except SQLAlchemyError as exc:
            raise store_error(f"reading job {job}", exc) from exc
        return None if row is None else LeaseRow(**row._mapping)

    def _ensure(self, job: str) -> None:
        with self.engine.connect().execution_options(sqlite_read=True) as conn:
            if conn.execute(select(LEASES.c.name).where(LEASES.c.name == job)).first():
                return
        try:
            with self.engine.connect().execution_options(sqlite_immediate=True) as conn:
                conn.execute(
                    insert(LEASES).values(
                        name=job,
                        holder="",
                        expires_at=0,
                        next_run_at=0,
                        last_finished_at=0,
                        last_outcome="",
                    )
                )
                conn.commit()
        except SqlIntegrityError:
            return  # another replica made it first
