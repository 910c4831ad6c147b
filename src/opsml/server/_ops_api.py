"""The routes an orchestrator and a monitoring system call: liveness, readiness, metrics.

- ``GET /opsml/api/healthz``: the process answers (no database read): restart it when not.
- ``GET /opsml/api/readyz``: the database answers, the storage answers, and the schema is
  at this opsml's newest migration; ``503`` with the failed checks named otherwise: send it
  no traffic until it is ready again.
- ``GET /opsml/api/metrics``: Prometheus metrics, for an admin, or for the bearer token
  ``OPSML_METRICS_TOKEN`` (anyone, on a server without authentication); absent with
  ``OPSML_METRICS=false``.

The existing ``GET /opsml/api/healthcheck`` stays as it was (clients call it to tell an
opsml server from another URL).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from opsml._version import __version__
from opsml.errors import OpsmlError
from opsml.server._authz import Scope, _Access
from opsml.server._security import Permission, Principal
from opsml.server._state import ERRORS, ServerState, StateDep

__all__ = ["METRICS_PATH", "OPEN_PATHS", "ops"]

_log = logging.getLogger("opsml.server")

METRICS_PATH = "/opsml/api/metrics"
OPEN_PATHS = frozenset({"/opsml/api/healthz", "/opsml/api/readyz", METRICS_PATH})
"""Paths answered whatever the ``Host`` header: probes and scrapers use the pod's address."""

_CHECK_SECONDS = 5.0
ops = APIRouter(prefix="/opsml/api", responses=ERRORS)


@ops.get("/healthz", tags=["server"])
async def healthz() -> dict[str, str]:
    """Liveness: the process answers (nothing else is checked, so a database outage does
    not get every replica restarted)."""
    return {"status": "ok", "version": __version__}


def _database(st: ServerState) -> tuple[str, str]:
    state = st.backend.store.schema_state()
    schema = "ok" if state.up_to_date else state.describe()
    return "ok", schema


def _storage(st: ServerState) -> str:
    st.backend.storage.probe()
    return "ok"


async def _check(st: ServerState, what: str, fn: Any) -> Any:
    try:
        return await asyncio.wait_for(st.run(fn, st), _CHECK_SECONDS)
    except TimeoutError:
        _log.warning("readiness: the %s did not answer within %s s", what, _CHECK_SECONDS)
        return None
    except OpsmlError as exc:
        _log.warning("readiness: the %s failed: %s", what, exc)
        return None
    except Exception:  # not ready either way: the log has the traceback
        _log.exception("readiness: the %s check failed unexpectedly", what)
        return None


@ops.get(
    "/readyz",
    tags=["server"],
    responses={503: {"description": "Not ready: the body names the failed checks."}},
)
async def readyz(st: StateDep) -> JSONResponse:
    """Readiness: the database and the storage answer, and the database's schema is at
    this opsml's newest migration. ``200`` when all hold, else ``503``; either way the body
    gives each check's result (``ok``, or what is wrong; the server log has the errors)."""
    database, storage = await asyncio.gather(
        _check(st, "database", _database), _check(st, "storage", _storage)
    )
    checks = {
        "database": "ok" if database is not None else "unreachable",
        "schema": database[1] if database is not None else "unknown",
        "storage": "ok" if storage is not None else "unreachable",
    }
    failed = sorted(name for name, result in checks.items() if result != "ok")
    body = {
        "status": "ready" if not failed else "unavailable",
        "checks": checks,
        "failed": failed,
        "version": __version__,
    }
    return JSONResponse(body, status_code=503 if failed else 200)


class _MetricsAccess(_Access):
    """Admins may read the metrics, and so may a request bearing ``OPSML_METRICS_TOKEN``."""

    async def __call__(
        self, request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Principal:
        st: ServerState = request.app.state.opsml
        expected = st.config.metrics_token
        scheme, _, token = (authorization or "").partition(" ")
        if (
            expected
            and scheme.lower() == "bearer"
            and hmac.compare_digest(token.strip().encode(), expected.encode())
        ):
            principal = Principal(username="metrics")
            request.state.principal = principal
            return principal
        return await super().__call__(request, authorization)


@ops.get(
    "/metrics",
    tags=["server"],
    response_class=Response,
    dependencies=[Depends(_MetricsAccess(Permission.Admin, Scope.Server))],
)
async def metrics(st: StateDep) -> Response:
    """Prometheus metrics of every worker of this server (text exposition format)."""
    st.metrics.update_pool(st.backend.store.engine.pool)
    body = await st.run(st.metrics.exposition)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
