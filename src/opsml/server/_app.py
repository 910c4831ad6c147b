"""The FastAPI application: the JSON API under ``/opsml/api`` and the web UI at ``/``."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from opsml._version import __version__
from opsml.errors import OpsmlError, RateLimitError
from opsml.registry import LocalBackend
from opsml.server._accounts import accounts
from opsml.server._aliases_api import aliases
from opsml.server._auth_api import public
from opsml.server._authz import AuditLog, BodyLimit, HostGuard, JsonText, SameOrigin
from opsml.server._cards_api import cards
from opsml.server._config import ServerConfig
from opsml.server._errors import (
    REQUEST_ID_HEADER,
    private_detail,
    public_detail,
    request_id,
    status_for,
)
from opsml.server._experiment_api import experiments
from opsml.server._jobs import Jobs
from opsml.server._observe import MULTIPROC_ENV, Metrics, Observe
from opsml.server._ops_api import METRICS_PATH, OPEN_PATHS, ops
from opsml.server._scouter_api import monitoring
from opsml.server._state import ServerState
from opsml.server._transfer_api import transfers
from opsml.server._webhook_delivery import WebhookDispatcher
from opsml.server._webhooks_api import webhooks
from opsml.server.ui._routes import install_ui
from opsml.store import SqlStore, WebhookStore

__all__ = ["create_app"]

_STATUS_ERRORS = {
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
}


def _error(status: int, error: str, detail: str, **fields: Any) -> JSONResponse:
    detail = detail.encode("utf-8", "backslashreplace").decode("utf-8")  # quoted input
    return JSONResponse(status_code=status, content={"error": error, "detail": detail, **fields})


def _telemetry() -> dict[str, Any]:
    """FastAPI's own OpenTelemetry instrumentation (FastAPI 0.165 and later): spans when the
    process has a tracer provider when the app is built (e.g. run under
    ``opentelemetry-instrument``), otherwise nothing. Never its metrics or logs: the
    Prometheus endpoint and the request log carry those. Left on, it asks OpenTelemetry
    on every request whether anything is configured: 5 % of a card read's time."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    from opentelemetry import trace

    provider = type(trace.get_tracer_provider()).__name__
    tracing = provider not in ("ProxyTracerProvider", "NoOpTracerProvider")
    return {"telemetry": {"tracing": tracing, "metrics": False, "logs": False}}


@contextlib.asynccontextmanager
async def _lifespan(st: ServerState) -> AsyncIterator[None]:
    """Start the worker threads, then run the background jobs and deliver webhooks while
    the server serves (not in an app that only answers test requests, e.g. a test client
    used without its context)."""
    st.start_threads()
    dispatcher = WebhookDispatcher(WebhookStore(st.backend.store), st.config.webhooks)
    if st.config.webhooks.enabled:
        dispatcher.start()
    task = asyncio.create_task(Jobs(st, st.metrics).run_forever())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        dispatcher.stop()
        st.close_loop_reads()


def create_app(config: ServerConfig) -> FastAPI:
    """Build the server on the database and storage named by ``config``.

    Args:
        config: The server's settings (database, storage, authentication).

    Returns:
        The FastAPI app.
    """
    store = SqlStore.from_url(config.opsml.tracking_uri, migrate=config.auto_migrate)
    backend = LocalBackend.from_config(config.opsml, store=store)
    metrics = Metrics(os.environ.get(MULTIPROC_ENV) or None)
    st = ServerState(config, backend, metrics)

    app = FastAPI(
        **_telemetry(),
        title="opsml",
        version=__version__,
        openapi_url="/opsml/api/openapi.json",
        docs_url="/opsml/api/docs",
        redoc_url=None,
        lifespan=lambda _app: _lifespan(st),
    )

    @app.exception_handler(OpsmlError)
    async def _domain_error(request: Request, exc: OpsmlError) -> JSONResponse:
        detail = public_detail(exc, request_id(request.scope))
        fields = {name: getattr(exc, name) for name in exc._wire_fields}
        response = _error(status_for(exc), type(exc).__name__, detail, **fields)
        if isinstance(exc, RateLimitError) and exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}"
            for err in exc.errors()
        )
        return _error(422, "InvalidArgumentError", detail or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        name = _STATUS_ERRORS.get(exc.status_code, "HTTPError")
        return _error(exc.status_code, name, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        rid = request_id(request.scope)
        response = _error(500, "InternalError", private_detail("internal server error", exc, rid))
        response.headers[REQUEST_ID_HEADER] = rid  # this answer bypasses the middleware
        return response

    if config.auth:
        st.security.ensure_admin(config.username, config.password)
    app.state.opsml = st
    # The routes go into the app's own list, the most requested first: every request tries
    # them in order (an included router would cost a second matching pass per request).
    # FastAPI's own (the OpenAPI document and its docs page) go last.
    builtin = list(app.router.routes)
    app.router.routes.clear()
    for router in (cards, transfers):
        app.router.routes.extend(router.routes)
    install_ui(app)
    for router in (public, accounts, experiments, monitoring, aliases, webhooks):
        app.router.routes.extend(router.routes)
    app.router.routes.extend(
        r for r in ops.routes if config.metrics or getattr(r, "path", "") != METRICS_PATH
    )
    app.router.routes.extend(builtin)

    # Added last runs first: the host check, the body limit, the CSRF check, the JSON text
    # check, around all of them the audit log, so requests they refuse are recorded too,
    # and outermost the request id every answer carries, the metrics and the request log.
    app.add_middleware(JsonText)
    app.add_middleware(SameOrigin)
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    app.add_middleware(HostGuard, allowed=config.allowed_hosts, open_paths=OPEN_PATHS)
    app.add_middleware(AuditLog, store=lambda: st.auth_store)
    app.add_middleware(Observe, metrics=metrics, log_requests=config.access_log)
    return app
