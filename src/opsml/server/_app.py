"""The FastAPI application: the JSON API under ``/opsml/api`` and HTML pages at ``/``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from opsml._version import __version__
from opsml.errors import OpsmlError
from opsml.registry import LocalBackend
from opsml.registry._registry import card_query, card_registry_type
from opsml.server._api import ServerState, api, current_user, public
from opsml.server._config import ServerConfig
from opsml.server._errors import status_for
from opsml.server._pages import card_page, index_page, registry_page
from opsml.store import CardQuery
from opsml.store._schema import CARD_REGISTRIES

__all__ = ["create_app"]

_log = logging.getLogger("opsml.server")

_STATUS_ERRORS = {
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
}


def _error(status: int, error: str, detail: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": error, "detail": detail})


def create_app(config: ServerConfig) -> FastAPI:
    """Build the server on the database and storage named by ``config``.

    Args:
        config: The server's settings (database, storage, authentication).

    Returns:
        The FastAPI app.
    """
    backend = LocalBackend.from_config(config.opsml)
    app = FastAPI(
        title="opsml",
        version=__version__,
        openapi_url="/opsml/api/openapi.json",
        docs_url="/opsml/api/docs",
        redoc_url=None,
    )

    @app.exception_handler(OpsmlError)
    async def _domain_error(_request: Request, exc: OpsmlError) -> JSONResponse:
        return _error(status_for(exc), type(exc).__name__, str(exc))

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
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        _log.error("unhandled error", exc_info=exc)
        return _error(500, "InternalError", "internal server error")

    app.state.opsml = ServerState(config, backend)
    app.include_router(public)
    app.include_router(api)

    ui = Depends(current_user)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False, dependencies=[ui])
    def index() -> str:
        counts = {
            r.value: len(backend.list_cards(r, CardQuery(limit=1000))) for r in CARD_REGISTRIES
        }
        return index_page(counts)

    @app.get(
        "/ui/{registry}", response_class=HTMLResponse, include_in_schema=False, dependencies=[ui]
    )
    def registry_ui(registry: str, space: str = "", name: str = "", version: str = "") -> str:
        reg = card_registry_type(registry)
        query = card_query(None, space or None, name or None, version or None, limit=100)
        records = backend.list_cards(reg, query)
        return registry_page(reg.value, records, {"space": space, "name": name, "version": version})

    @app.get(
        "/ui/{registry}/{uid}",
        response_class=HTMLResponse,
        include_in_schema=False,
        dependencies=[ui],
    )
    def card_ui(registry: str, uid: str) -> str:
        reg = card_registry_type(registry)
        card = backend.load_card(reg, CardQuery(uid=uid, limit=1))
        data: dict[str, Any] = card.model_dump(mode="json")
        files = (data.get("manifest") or {}).get("files", {})
        return card_page(reg.value, data, files)

    @app.get("/ui", include_in_schema=False)
    def ui_root() -> RedirectResponse:
        return RedirectResponse("/")

    return app
