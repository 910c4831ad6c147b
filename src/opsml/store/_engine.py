"""Engines for database URLs, with the pragmas and locks each backend needs.

An engine belongs to whoever opened it (a :class:`~opsml.store.SqlStore`, and through it a
registry backend): there is no process-wide table of engines. Opening an engine also
brings the schema to the latest migration, under a lock so concurrent first users do not
race; an up-to-date database is opened without taking the lock.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from opsml.errors import InvalidArgumentError, MissingDependencyError
from opsml.store._errors import store_error

__all__ = ["HEAD_REVISION", "VERSION_TABLE", "normalize_url", "open_engine"]

HEAD_REVISION = "0010_webhooks"
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


def open_engine(url: str) -> Engine:
    """Create an engine for ``url`` and migrate the schema if it is behind.

    The caller owns the engine (``engine.dispose()`` closes its connections).

    Args:
        url: A SQLAlchemy URL (``sqlite:///…``, ``postgresql://…``, ``mysql+pymysql://…``).

    Raises:
        MissingDependencyError: The database driver's extra is not installed.
        MetadataStoreError: The database cannot be reached or migrated.
    """
    engine = _create(normalize_url(url))
    try:
        _migrate(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


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
        kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=10, pool_recycle=1800)
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        raise MissingDependencyError(parsed.get_driver_name(), "all") from exc
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


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


def _migrate(engine: Engine) -> None:
    try:
        if _current_revision(engine) == HEAD_REVISION:
            return
        with _migration_lock(engine) as conn:
            if _current_revision(engine) == HEAD_REVISION:
                return
            _run_alembic(conn)
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
            conn.execute(text("SELECT GET_LOCK('opsml_migrate', 300)"))
            try:
                yield conn
            finally:
                conn.execute(text("SELECT RELEASE_LOCK('opsml_migrate')"))
        else:
            yield conn


def _run_alembic(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")
    conn.commit()
