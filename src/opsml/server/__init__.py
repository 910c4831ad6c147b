"""The opsml server: HTTP API and web UI over the local backend."""

from __future__ import annotations

import importlib
import os
import secrets
import sys
from typing import TYPE_CHECKING, Any

from opsml._compat import require

if TYPE_CHECKING:
    from opsml.server._config import ServerConfig
    from opsml.server._security import Security, parse_grants

__all__ = ["Security", "ServerConfig", "create_app", "default_workers", "parse_grants", "serve"]

_LAZY = {
    "ServerConfig": "opsml.server._config",
    "Security": "opsml.server._security",
    "parse_grants": "opsml.server._security",
}


def __getattr__(name: str) -> Any:
    """The server's settings and account tools, imported on first use (they need the
    ``server`` extra)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'opsml.server' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def create_app(config: Any = None) -> Any:
    """Build the FastAPI app (a ``ServerConfig`` read from the environment when omitted)."""
    require("fastapi", "server")
    from opsml.server._app import create_app as _create
    from opsml.server._config import ServerConfig

    return _create(config if config is not None else ServerConfig.from_env())


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int | None = None,
    *,
    header_timeout: int | None = None,
    body_timeout: int | None = None,
    body_min_rate: int | None = None,
    keep_alive_timeout: int | None = None,
    forwarded_allow_ips: str | None = None,
    access_log: bool | None = None,
) -> None:
    """Run the server with uvicorn until interrupted.

    Settings come from the environment (``OPSML_*``, see ``docs/configuration.md``); each
    keyword argument given overrides its variable.

    Args:
        host: Interface to bind.
        port: Port to listen on.
        workers: Worker processes (each a full replica; they share database and storage);
            default: one per CPU core this process may run on. Without
            ``OPSML_AUTH_SECRET`` / ``OPSML_REFRESH_SECRET``, the workers of one server
            share secrets made up at its start, so they accept each other's tokens.
        header_timeout: Seconds a client has to send a complete request head
            (``OPSML_SERVER_HEADER_TIMEOUT``, default 20).
        body_timeout: Longest gap in seconds without a byte while a request body is read
            (``OPSML_SERVER_BODY_TIMEOUT``, default 60).
        body_min_rate: Slowest average request body rate in bytes per second: a body has
            ``body_timeout`` seconds plus one second per this many bytes
            (``OPSML_SERVER_BODY_MIN_RATE``, default 500).
        keep_alive_timeout: Seconds an idle connection stays open between requests
            (``OPSML_SERVER_KEEP_ALIVE_TIMEOUT``, default 30).
        forwarded_allow_ips: Comma-separated proxy addresses or networks whose
            ``X-Forwarded-For`` header is believed (``OPSML_FORWARDED_ALLOW_IPS``,
            default none).
        access_log: Log one line per request (``OPSML_SERVER_ACCESS_LOG``, default off).

    Raises:
        InvalidArgumentError: A setting is malformed (or insecure with
            ``APP_ENV=production``).
    """
    require("uvicorn", "server")
    from opsml.server._config import ServerConfig
    from opsml.server._serve import run

    overrides = {
        "OPSML_SERVER_HEADER_TIMEOUT": header_timeout,
        "OPSML_SERVER_BODY_TIMEOUT": body_timeout,
        "OPSML_SERVER_BODY_MIN_RATE": body_min_rate,
        "OPSML_SERVER_KEEP_ALIVE_TIMEOUT": keep_alive_timeout,
        "OPSML_FORWARDED_ALLOW_IPS": forwarded_allow_ips,
        "OPSML_SERVER_ACCESS_LOG": None if access_log is None else str(access_log).lower(),
    }
    env = {**os.environ, **{k: str(v) for k, v in overrides.items() if v is not None}}
    workers = workers if workers is not None else default_workers()
    if workers > 1:
        for name in ("OPSML_AUTH_SECRET", "OPSML_REFRESH_SECRET"):
            if not env.get(name, "").strip():
                # The workers read the environment when they start (each builds its app).
                os.environ[name] = env[name] = secrets.token_urlsafe(32)
    config = ServerConfig.from_env(env)
    _say_which_registry()
    _prepare_schema(config)
    run(config, host=host, port=port, workers=workers)


def _prepare_schema(config: ServerConfig) -> None:
    """Migrate the database once, before any worker starts (or, with automatic migration
    off, check that ``opsml db upgrade`` ran); a schema newer than this opsml stops the
    server here, with one clear message."""
    from opsml.errors import SchemaVersionError
    from opsml.store import schema_revision, upgrade_schema

    url = config.opsml.tracking_uri
    if config.auto_migrate:
        upgrade_schema(url)
        return
    state = schema_revision(url)
    if not state.up_to_date:
        raise SchemaVersionError(
            f"the database's schema is at {state.describe()} (automatic migration is off: "
            "OPSML_DB_AUTO_MIGRATE=false)"
        )


def _say_which_registry() -> None:
    """Print the database and storage served: the first thing to check when the UI lacks
    cards a user registered (from another directory, into that directory's ``opsml.db``)."""
    from opsml.registry import describe_database
    from opsml.settings import OpsmlConfig

    cfg = OpsmlConfig.from_env()
    defaults = (
        " (this directory's defaults: set OPSML_TRACKING_URI and OPSML_STORAGE_URI to serve "
        "another registry)"
        if cfg.tracking_defaulted
        else ""
    )
    print(
        f"opsml server: {describe_database(cfg.tracking_uri)}, storage {cfg.storage_uri}{defaults}",
        file=sys.stderr,
        flush=True,
    )


def default_workers() -> int:
    """The number of CPU cores this process may run on (``opsml server start``'s default
    number of workers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
