"""Reads compiled once and run on a pooled DBAPI cursor: the store's hot path.

For a primary-key lookup SQLAlchemy spends far more time building the statement, generating
its cache key and setting up result metadata than the database spends answering (about
1 ms against 30 µs on SQLite here), on every call. A :class:`PreparedRead` is a SQLAlchemy
Core ``SELECT`` compiled once for the engine's dialect, with the bind and result processors
of its types looked up once; each run checks a connection out of the engine's pool, runs the
SQL text on a DBAPI cursor, and returns named tuples holding the same Python values
SQLAlchemy's own rows would (dates parsed, MySQL's ``VARBINARY`` text decoded).

Values that change between runs are named ``bindparam(name)`` placeholders without a value;
everything else in the statement (status, version bounds, limits) is a constant of it.
Errors are raised as SQLAlchemy's ``DBAPIError`` classes, as ``Connection.execute`` would,
and a connection the database dropped is invalidated in the pool.

On PostgreSQL with psycopg 3 the read runs in autocommit mode: a single ``SELECT`` is its own
transaction either way, but outside autocommit psycopg sends ``BEGIN`` before it and the
pool a ``ROLLBACK`` when the connection is returned, three round trips to the server for
one read (measured: a card read served at 0.53 ms of server CPU, a third of it in those
two). The connection goes back to the pool as it came (autocommit off).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Hashable, Mapping, Sequence
from threading import Lock
from typing import Any

from sqlalchemy import Engine, Select
from sqlalchemy.exc import DBAPIError, StatementError

__all__ = ["PreparedRead", "PreparedReads", "Record"]

_Processor = Callable[[Any], Any]
# Tries of a read whose pooled connection turns out to be dropped by the database.
_DISCONNECT_ATTEMPTS = 3

Record = Any
"""A row of a prepared read: a named tuple of the selected columns (``row.uid``, as with
SQLAlchemy's rows; typed ``Any`` as they are)."""


class PreparedRead:
    """One ``SELECT`` compiled for ``engine``'s dialect, run without SQLAlchemy's per-call
    statement machinery.

    Args:
        engine: The engine whose pool and dialect to use.
        stmt: The statement; its ``bindparam(name)`` placeholders without a value are the
            values each :meth:`run` passes.
    """

    def __init__(self, engine: Engine, stmt: Select[Any]) -> None:
        dialect = engine.dialect
        compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        self._engine = engine
        # psycopg 3: run in autocommit mode (no BEGIN, and no ROLLBACK at check-in).
        self._autocommit = dialect.name == "postgresql" and dialect.driver == "psycopg"
        self.sql = str(compiled)
        # Each parameter: (name the DBAPI sees, variable name or None, value, processor).
        params: list[tuple[str, str | None, Any, _Processor | None]] = []
        names = compiled.positiontup if compiled.positional else list(compiled.binds)
        for name in names or ():
            bind = compiled.binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.required:
                params.append((name, bind.key, None, process))
            else:
                value = bind.effective_value
                params.append((name, None, process(value) if process else value, None))
        self._params = params
        self._positional = bool(compiled.positional)
        self._columns = list(stmt.selected_columns)
        row_type: Any = collections.namedtuple("Row", [c.name for c in self._columns])  # type: ignore[misc]
        self._make: Callable[[Any], Record] = row_type._make
        self._processors: list[tuple[int, _Processor]] | None = None

    def bound(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The parameters the DBAPI cursor takes for ``values`` of the placeholders."""
        bound = [
            (name, value if key is None else process(values[key]) if process else values[key])
            for name, key, value, process in self._params
        ]
        if self._positional:
            return tuple(value for _, value in bound)
        return dict(bound)

    def _result_processors(self, description: Any) -> list[tuple[int, _Processor]]:
        dialect = self._engine.dialect
        found: list[tuple[int, _Processor]] = []
        for i, (column, desc) in enumerate(zip(self._columns, description, strict=True)):
            process = column.type.dialect_impl(dialect).result_processor(dialect, desc[1])
            if process is not None:
                found.append((i, process))
        return found

    def run(self, values: Mapping[str, Any] | None = None) -> list[Record]:
        """Run the statement with ``values`` for its placeholders.

        Returns:
            The rows, as named tuples (attribute access by column name, like SQLAlchemy's).

        Raises:
            sqlalchemy.exc.DBAPIError: The database failed (the driver's error wrapped as
                SQLAlchemy wraps it).
        """
        params = self.bound(values or {})
        attempt = 1
        while True:
            try:
                return self._run(params)
            except DBAPIError as exc:
                # A pooled connection the database dropped (a restart, a failover, an idle
                # timeout): it is discarded; a read is safe to run again on another.
                if not exc.connection_invalidated or attempt >= _DISCONNECT_ATTEMPTS:
                    raise
                attempt += 1

    def _run(self, params: tuple[Any, ...] | dict[str, Any]) -> list[Record]:
        dialect = self._engine.dialect
        conn = self._engine.raw_connection()
        switched = self._autocommit and _autocommit_on(conn.dbapi_connection)
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(self.sql, params)
                fetched = cursor.fetchall()
                description = None if self.described else cursor.description
            except dialect.loaded_dbapi.Error as exc:
                invalid = dialect.is_disconnect(exc, conn.dbapi_connection, cursor)
                if invalid:
                    conn.invalidate(exc)
                raise self.error(params, exc, invalid) from exc
            finally:
                cursor.close()
        finally:
            if switched:
                _autocommit_off(conn)
            conn.close()
        return self.records(fetched, description)

    def error(self, params: Any, exc: Exception, invalidated: bool) -> StatementError:
        """The driver's error ``exc`` as SQLAlchemy's ``DBAPIError`` class for it, as
        ``Connection.execute`` raises it (``invalidated``: the connection was dropped)."""
        dialect = self._engine.dialect
        return DBAPIError.instance(
            self.sql,
            params,
            exc,
            dialect.loaded_dbapi.Error,
            connection_invalidated=invalidated,
            dialect=dialect,
        )

    @property
    def described(self) -> bool:
        """Whether :meth:`records` knows the result's types already (then it needs no
        ``description``: psycopg builds one object per column each time it is asked)."""
        return self._processors is not None

    def records(self, fetched: Sequence[Any], description: Any) -> list[Record]:
        """Rows a DBAPI cursor fetched for this statement as the named tuples :meth:`run`
        returns (``description``: the cursor's, needed until :attr:`described`)."""
        processors = self._processors
        if processors is None:
            processors = self._processors = self._result_processors(description)
        make = self._make
        if not processors:
            return [make(row) for row in fetched]
        rows = []
        for row in fetched:
            cells = list(row)
            for i, process in processors:
                cells[i] = process(cells[i])
            rows.append(make(cells))
        return rows


def _autocommit_on(dbapi_connection: Any) -> bool:
    """Switch an idle psycopg 3 connection to autocommit; whether it was switched."""
    if dbapi_connection is None or dbapi_connection.autocommit:
        return False
    if dbapi_connection.info.transaction_status != PG_IDLE:
        return False  # not expected from the pool; then the read runs as before
    dbapi_connection.autocommit = True
    return True


def _autocommit_off(conn: Any) -> None:
    """Give a connection :func:`_autocommit_on` switched its autocommit back, before it
    returns to the pool; one that cannot be switched back (broken) is discarded."""
    dbapi_connection = conn.dbapi_connection
    if dbapi_connection is None:  # invalidated already
        return
    try:
        dbapi_connection.autocommit = False
    except Exception as exc:  # a broken connection: not back into the pool
        conn.invalidate(exc)


# psycopg's TransactionStatus.IDLE (0), without importing psycopg where it is not installed.
PG_IDLE = 0


class PreparedReads:
    """The prepared statements of one engine, built on first use by a key that determines
    the statement (at most ``limit`` kept; the oldest go first).

    Args:
        engine: The engine they run on.
        limit: How many statements to keep.
    """

    def __init__(self, engine: Engine, limit: int = 512) -> None:
        self._engine = engine
        self._limit = limit
        self._reads: dict[Hashable, PreparedRead] = {}
        self._lock = Lock()

    def get(self, key: Hashable, build: Callable[[], Select[Any]]) -> PreparedRead:
        """The statement for ``key``, compiled from ``build()`` the first time."""
        read = self._reads.get(key)
        if read is None:
            read = PreparedRead(self._engine, build())
            with self._lock:
                if len(self._reads) >= self._limit:
                    self._reads.pop(next(iter(self._reads)))
                self._reads[key] = read
        return read
