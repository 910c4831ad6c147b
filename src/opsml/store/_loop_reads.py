"""Short reads by key on the server's event loop, for PostgreSQL: no thread hop.

The server runs a blocking database call in one of its worker threads; for a read by key
(a card's record, the security epoch) the hop there and back costs more than the read:
the event loop hands the call to a thread, the thread waits for the GIL behind the loop,
and the answer comes back through the loop's wake-up pipe. Measured on PostgreSQL, 2
workers, wrk at 16 connections on GET card metadata: 0.45-0.51 ms of server CPU per
request and about 2 800 requests/s through the threads; 0.28-0.30 ms and about 5 000/s with
the read awaited on the loop (psycopg's ``AsyncConnection``, the same driver, connection
arguments and type adaptation as the engine's own connections).

:class:`LoopReads` keeps a few such connections per process (``OPSML_DB_LOOP_CONNECTIONS``,
default 4; 0 sends these reads to the threads again), opened when a read finds none idle,
in autocommit mode (a single ``SELECT`` is its own transaction). Requests that find them
all busy wait in the order they came. Like the engine's pool: a connection the database
dropped fails its read, which is run again on another (reads are safe to repeat), and
every connection older than the failure is replaced; connections are replaced after 30
minutes. A read cancelled while it runs (a client that went away) closes its connection
rather than return it in an unknown state.
"""

from __future__ import annotations

import asyncio
import collections
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from opsml.store._engine import whole_number_env
from opsml.store._prepared import PG_IDLE, PreparedRead, Record

__all__ = ["DEFAULT_LOOP_CONNECTIONS", "LOOP_CONNECTIONS_ENV", "LoopReads", "loop_connections"]

LOOP_CONNECTIONS_ENV = "OPSML_DB_LOOP_CONNECTIONS"
DEFAULT_LOOP_CONNECTIONS = 4
# As the engine's pool_recycle: a connection is replaced after this long.
RECYCLE_SECONDS = 1800.0
# Tries of a read whose connection turns out to be dropped by the database.
_ATTEMPTS = 3


def loop_connections() -> int:
    """Connections each server process keeps for reads on its event loop
    (``OPSML_DB_LOOP_CONNECTIONS``; 0: none, those reads run in worker threads).

    Raises:
        InvalidArgumentError: Not a whole number from 0 to 1000.
    """
    return whole_number_env(LOOP_CONNECTIONS_ENV, DEFAULT_LOOP_CONNECTIONS, 0, 1000)


@dataclass(eq=False)
class _Connection:
    """A connection and what decides whether it may be used again."""

    connection: Any  # psycopg.AsyncConnection
    loop: asyncio.AbstractEventLoop
    generation: int
    opened: float


class LoopReads:
    """psycopg ``AsyncConnection``\\ s for :class:`PreparedRead`\\ s awaited on the event loop
    (one loop at a time: used from another loop, the connections of the first are closed
    and new ones opened).

    Args:
        engine: The PostgreSQL engine (psycopg 3) whose database, connection arguments and
            statements to use.
        size: How many connections to keep at most.
    """

    def __init__(self, engine: Engine, size: int) -> None:
        import psycopg

        self._size = size
        self._connect_args = engine.dialect.create_connect_args(engine.url)
        self._connect = psycopg.AsyncConnection.connect
        self._error: type[Exception] = psycopg.Error
        self._idle: collections.deque[_Connection] = collections.deque()
        self._waiters: collections.deque[asyncio.Future[_Connection | None]] = collections.deque()
        self._live: set[_Connection] = set()  # open, idle or in use, on the current loop
        self._opening = 0
        self._generation = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def for_engine(cls, engine: Engine, size: int | None = None) -> LoopReads | None:
        """The loop reads of ``engine``, or ``None`` where there are none: a database other
        than PostgreSQL through psycopg 3, ``size`` (default :func:`loop_connections`) 0,
        or Windows (whose default event loop cannot wait on a socket's readiness)."""
        dialect = engine.dialect
        if dialect.name != "postgresql" or dialect.driver != "psycopg":
            return None
        size = loop_connections() if size is None else size
        if size == 0 or sys.platform == "win32":
            return None
        return cls(engine, size)

    def open_connections(self) -> int:
        """How many connections are open now (idle or in use)."""
        return len(self._live)

    async def run(
        self, read: PreparedRead, values: Mapping[str, Any] | None = None
    ) -> list[Record]:
        """Run ``read`` (compiled for this engine) with ``values`` for its placeholders.

        Returns:
            The rows, as :meth:`PreparedRead.run` returns them.

        Raises:
            sqlalchemy.exc.DBAPIError: The database failed (the driver's error wrapped as
                SQLAlchemy wraps it; also when no connection can be opened).
        """
        params = read.bound(values or {})
        attempt = 1
        while True:
            try:
                held = await self._acquire()
            except self._error as exc:
                raise read.error(params, exc, False) from exc
            try:
                cursor = held.connection.cursor()
                try:
                    await cursor.execute(read.sql, params)
                    fetched = await cursor.fetchall()
                    description = None if read.described else cursor.description
                finally:
                    await cursor.close()
            except self._error as exc:
                connection = held.connection
                dropped = bool(connection.closed or connection.broken)
                if dropped:
                    # Like SQLAlchemy's pool: the connections opened before this failure
                    # are likely dropped too (a restart); each is replaced when next used.
                    self._generation += 1
                if dropped or connection.info.transaction_status != PG_IDLE:
                    self._discard(held)  # not back into use in a state but idle
                else:
                    self._release(held)
                if dropped and attempt < _ATTEMPTS:
                    attempt += 1
                    continue
                raise read.error(params, exc, dropped) from exc
            except BaseException:
                # Cancelled while the statement ran (or worse): the connection's protocol
                # state is unknown, so it is closed, not reused.
                self._discard(held)
                raise
            self._release(held)
            return read.records(fetched, description)

    def close(self) -> None:
        """Close every idle connection now and each one in use when it is returned (the
        next read opens new ones)."""
        self._generation += 1
        while self._idle:
            self._discard(self._idle.pop())

    # -- the pool -------------------------------------------------------------------------

    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # Connections and waiters belong to the loop they were made on.
            self.close()
            self._live.clear()
            self._waiters.clear()
            self._opening = 0
            self._loop = loop
        return loop

    def _usable(self, held: _Connection) -> bool:
        return (
            held.loop is self._loop
            and held.generation == self._generation
            and time.monotonic() - held.opened < RECYCLE_SECONDS
            and not held.connection.closed
        )

    async def _acquire(self) -> _Connection:
        loop = self._bind()
        while True:
            while self._idle:
                held = self._idle.pop()  # the most recently used: warm caches
                if self._usable(held):
                    return held
                self._discard(held)
            if len(self._live) + self._opening < self._size:
                return await self._open(loop)
            waiter: asyncio.Future[_Connection | None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    # Handed a connection (or a free place) just as it was cancelled.
                    found = waiter.result()
                    if found is not None:
                        self._release(found)
                    else:
                        self._wake()
                else:
                    self._waiters.remove(waiter)
                raise
            if handed is not None:
                return handed
            # A place came free: open a connection, unless an idle one came back first.

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        self._opening += 1
        try:
            args, kwargs = self._connect_args
            connection = await self._connect(*args, **kwargs, autocommit=True)
        except BaseException:
            if loop is self._loop:
                self._opening -= 1
                self._wake()
            raise
        if loop is not self._loop:  # the pool moved to another loop meanwhile
            connection.pgconn.finish()
            raise RuntimeError("the connection pool moved to another event loop")
        self._opening -= 1
        held = _Connection(connection, loop, self._generation, time.monotonic())
        self._live.add(held)
        return held

    def _release(self, held: _Connection) -> None:
        if not self._usable(held):
            self._discard(held)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(held)  # the longest waiter first
                return
        self._idle.append(held)

    def _discard(self, held: _Connection) -> None:
        # PQfinish: closes the socket without waiting; psycopg then reports the
        # connection closed (and does not warn about it when collected).
        held.connection.pgconn.finish()
        if held in self._live:
            self._live.discard(held)
            self._wake()

    def _wake(self) -> None:
        """A place for a connection came free: the longest waiter opens one."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
