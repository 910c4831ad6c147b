"""Engines for database URLs, with the pragmas and locks each backend needs, and the
schema's migrations.

An engine belongs to whoever opened it (a :class:`~opsml.store.SqlStore`, and through it a
registry backend): there is no process-wide table of engines. Opening an engine also
brings the schema to the latest migration (unless told not to), under a lock so concurrent
first users do not race: PostgreSQL's advisory lock, MariaDB's ``GET_LOCK``, and on SQLite
an exclusive lock on a file beside the database. An up-to-date database is opened without
taking the lock. A database whose schema is newer than this opsml knows is refused
(:class:`~opsml.errors.SchemaVersionError`): an older opsml must not write into tables a
newer one shaped.

:func:`schema_revision` and :func:`upgrade_schema` are ``opsml db current`` and
``opsml db upgrade``.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.exc import ArgumentError, DisconnectionError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import QueuePool

from opsml.errors import (
    InvalidArgumentError,
    MetadataStoreError,
    MissingDependencyError,
    SchemaVersionError,
)
from opsml.store._errors import store_error
from opsml.store._fair_pool import FairQueuePool

__all__ = [
    "HEAD_REVISION",
    "VERSION_TABLE",
    "SchemaState",
    "known_revisions",
    "normalize_url",
    "open_engine",
    "read_schema_state",
    "schema_revision",
    "upgrade_schema",
]

HEAD_REVISION = "0012_oidc_users"
VERSION_TABLE = "opsml_alembic_version"

_DRIVERS = {
    "postgresql": ("postgresql+psycopg", "psycopg", "postgres"),
    "postgres": ("postgresql+psycopg", "psycopg", "postgres"),
    "mysql": ("mysql+pymysql", "pymysql", "mysql"),
    "mariadb": ("mariadb+pymysql", "pymysql", "mysql"),
}


def normalize_url(url: str) -> str:
    """Pick the drivers opsml ships extras for when the URL names none.

    ``postgresql://`` → psycopg 3, ``mysql://``/``mariadb://`` → PyMySQL.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise InvalidArgumentError(f"not a database URL: {url!r}")
    driver = _DRIVERS.get(scheme.lower())
    if driver is not None:
        return f"{driver[0]}://{rest}"
    return url


def _require_driver(url: str) -> None:
    scheme = url.split("://", 1)[0].lower()
    for prefix, module, extra in _DRIVERS.values():
        if scheme == prefix:
            try:
                __import__(module)
            except ImportError as exc:
                raise MissingDependencyError(module, extra) from exc


def open_engine(url: str, *, migrate: bool = True) -> Engine:
    """Create an engine for ``url`` and migrate the schema if it is behind.

    The caller owns the engine (``engine.dispose()`` closes its connections).

    Args:
        url: A SQLAlchemy URL (``sqlite:///…``, ``postgresql://…``, ``mysql+pymysql://…``).
        migrate: Bring a schema that is behind to the latest migration (else refuse it).

    Raises:
        MissingDependencyError: The database driver's extra is not installed.
        SchemaVersionError: The schema is newer than this opsml knows, or behind and
            ``migrate`` is false.
        MetadataStoreError: The database cannot be reached or migrated.
    """
    engine = _create(normalize_url(url))
    try:
        _migrate(engine, apply=migrate)
    except BaseException:
        engine.dispose()
        raise
    return engine


@dataclass(frozen=True)
class SchemaState:
    """Where a database's schema stands (``opsml db current``).

    Attributes:
        revision: The database's migration (``None``: no opsml tables yet).
        head: The newest migration this opsml knows.
        known: Whether this opsml knows ``revision`` (false: a later opsml migrated it).
    """

    revision: str | None
    head: str
    known: bool

    @property
    def up_to_date(self) -> bool:
        """The schema is at this opsml's newest migration."""
        return self.revision == self.head

    def describe(self) -> str:
        """One line for a person: the revision and what to do about it."""
        if self.up_to_date:
            return f"{self.revision} (head): up to date"
        if not self.known:
            return (
                f"{self.revision}: newer than this opsml knows (its newest is {self.head}); "
                "upgrade opsml"
            )
        return f"{self.revision or 'empty'}: behind {self.head}; run `opsml db upgrade`"


def known_revisions() -> tuple[str, ...]:
    """Every migration this opsml ships, oldest first."""
    script = _script_directory()
    return tuple(reversed([rev.revision for rev in script.walk_revisions()]))


def schema_revision(url: str) -> SchemaState:
    """Read where the schema of the database at ``url`` stands, changing nothing.

    Raises:
        MissingDependencyError: The database driver's extra is not installed.
        MetadataStoreError: The database cannot be reached.
    """
    engine = _create(normalize_url(url))
    try:
        return read_schema_state(engine)
    finally:
        engine.dispose()


def read_schema_state(engine: Engine) -> SchemaState:
    """Where the schema of the database behind ``engine`` stands.

    Raises:
        MetadataStoreError: The database cannot be reached.
    """
    return _state(_read_revision(engine))


def upgrade_schema(url: str) -> tuple[SchemaState, SchemaState]:
    """Bring the database at ``url`` to the newest migration, under the migration lock
    (any number of processes may call this at once: one migrates, the others wait and find
    the work done). Returns the state this call found (under the lock) and the state after:
    the two are equal when there was nothing to do.

    Raises:
        MissingDependencyError: The database driver's extra is not installed.
        SchemaVersionError: The schema is newer than this opsml knows.
        MetadataStoreError: The database cannot be reached or migrated.
    """
    engine = _create(normalize_url(url))
    try:
        found = _migrate(engine, apply=True)
        after = read_schema_state(engine)
    finally:
        engine.dispose()
    return _state(found), after


def _state(revision: str | None) -> SchemaState:
    known = revision == HEAD_REVISION or revision is None or revision in known_revisions()
    return SchemaState(revision=revision, head=HEAD_REVISION, known=known)


def _read_revision(engine: Engine) -> str | None:
    try:
        return _current_revision(engine)
    except SQLAlchemyError as exc:
        raise store_error(
            f"reading the schema revision of {engine.url.render_as_string()}", exc
        ) from exc


POOL_SIZE_ENV = "OPSML_DB_POOL_SIZE"
DEFAULT_POOL_SIZE = 15


def _pool_size() -> int:
    """Connections each process keeps to PostgreSQL or MariaDB (``OPSML_DB_POOL_SIZE``).

    Raises:
        InvalidArgumentError: Not a whole number from 1 to 1000.
    """
    return whole_number_env(POOL_SIZE_ENV, DEFAULT_POOL_SIZE, 1, 1000)


def whole_number_env(name: str, default: int, low: int, high: int) -> int:
    """The whole number environment variable ``name`` holds (``default`` when unset or
    blank).

    Raises:
        InvalidArgumentError: Not a whole number from ``low`` to ``high``.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise InvalidArgumentError(
            f"{name} must be a whole number from {low} to {high}, not {raw!r}"
        )
    return value


def _create(url: str) -> Engine:
    _require_driver(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidArgumentError(f"not a database URL: {url!r}") from exc
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 60, "check_same_thread": False}
        # Keep as many connections as the server has I/O threads (32): a connection
        # opened per read costs its PRAGMAs and a schema parse, and an overflow
        # connection is closed on return. Idle SQLite connections cost little memory.
        kwargs.update(pool_size=32, max_overflow=16)
    else:
        # A fixed pool, kept open: overflow connections are closed when returned, so under
        # load every burst opened and closed PostgreSQL backends per request (measured: p99
        # of a card read 450 ms instead of 60 ms at 64 connections).
        kwargs.update(pool_size=_pool_size(), max_overflow=0, pool_recycle=1800)
    dialect = parsed.get_dialect()
    if issubclass(dialect, DefaultDialect) and dialect.get_pool_class(parsed) is QueuePool:
        # the same pool, but threads waiting for a connection get one in the order they
        # asked (an in-memory SQLite database keeps its own pool)
        kwargs["poolclass"] = FairQueuePool
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        raise MissingDependencyError(parsed.get_driver_name(), "all") from exc
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    else:
        _ping_when_idle(engine)
    return engine


# A pooled connection unused for longer than this is pinged before it is handed out.
IDLE_PING_SECONDS = 10.0


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only when it sat idle (``IDLE_PING_SECONDS``).

    A connection the database or a proxy dropped while it sat in the pool (a restart, an
    idle timeout) is replaced before a request sees it; one that was used a moment ago is
    handed out as is. SQLAlchemy's ``pool_pre_ping`` pings on every check-out: a network
    round trip on every request of a busy server. A connection that dies while in use
    fails that statement, and SQLAlchemy then discards every connection of the pool that
    is older than the failure.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool discards this connection and checks out (or opens) another.
            raise DisconnectionError("a pooled connection went away while idle") from exc
        if not alive:
            raise DisconnectionError("a pooled connection went away while idle")


def _configure_sqlite(engine: Engine) -> None:
    """WAL, a generous busy timeout and ``BEGIN IMMEDIATE`` for writes.

    pysqlite's own transaction handling defers BEGIN and upgrades read locks to write locks
    lazily, which deadlocks concurrent writers; we take over BEGIN and let a write
    transaction ask for the write lock up front (execution option ``sqlite_immediate``);
    single-statement reads (``sqlite_read``) skip the explicit transaction.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("sqlite_immediate"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif not options.get("sqlite_read"):
            conn.exec_driver_sql("BEGIN")
        # Reads (one SELECT each) run without an explicit transaction: in WAL mode every
        # statement sees a consistent snapshot on its own.


def _current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        row = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
        return None if row is None else str(row[0])


def _check(engine: Engine, revision: str | None, apply: bool) -> None:
    """Refuse a schema newer than this opsml, and (``apply`` false) one that is behind."""
    state = _state(revision)
    where = engine.url.render_as_string()
    if not state.known:
        raise SchemaVersionError(
            f"the database at {where} has schema revision {revision}, newer than this opsml "
            f"({HEAD_REVISION} is its newest): a later opsml upgraded it; upgrade opsml to use "
            "this database"
        )
    if not apply:
        raise SchemaVersionError(
            f"the database at {where} has schema revision {revision or 'none (empty)'}, "
            f"this opsml needs {HEAD_REVISION}: run `opsml db upgrade` (automatic migration "
            "is off: OPSML_DB_AUTO_MIGRATE=false)"
        )


def _migrate(engine: Engine, *, apply: bool) -> str | None:
    """Migrate to the head if behind; returns the revision found (under the lock when
    there was work to do: another process may have done it meanwhile)."""
    try:
        revision = _current_revision(engine)
        if revision == HEAD_REVISION:
            return revision
        _check(engine, revision, apply)
        with _migration_lock(engine) as conn:
            revision = _current_revision(engine)
            if revision == HEAD_REVISION:
                return revision
            _check(engine, revision, apply)
            _run_alembic(conn)
            return revision
    except SQLAlchemyError as exc:
        raise store_error(
            f"opening the metadata store at {engine.url.render_as_string()}", exc
        ) from exc


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    dialect = engine.dialect.name
    with engine.connect() as conn:
        if dialect == "sqlite":
            database = engine.url.database or ""
            if not database or database == ":memory:":
                yield conn
                return
            lock_path = Path(database + ".migrate.lock")
            with lock_path.open("a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield conn
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)
        elif dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(724600117)"))
            conn.commit()
            try:
                yield conn
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(724600117)"))
                conn.commit()
        elif dialect in ("mysql", "mariadb"):
            got = conn.execute(text("SELECT GET_LOCK('opsml_migrate', 300)")).scalar()
            if got != 1:
                raise MetadataStoreError(
                    "another process held the migration lock (opsml_migrate) for 300 s"
                )
            try:
                yield conn
            finally:
                conn.execute(text("SELECT RELEASE_LOCK('opsml_migrate')"))
        else:
            yield conn


def _alembic_config() -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return cfg


def _script_directory() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config())


def _run_alembic(conn: Connection) -> None:
    from alembic import command

    cfg = _alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")
    conn.commit()
