"""The FastAPI application: JSON API under ``/opsml/api`` and HTML pages at ``/``."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from opsml._version import __version__
from opsml.cards import validate_name
from opsml.errors import InvalidArgumentError, OpsmlError
from opsml.registry import LocalBackend
from opsml.server._errors import status_for
from opsml.server._pages import card_page, index_page, registry_page
from opsml.settings import OpsmlConfig
from opsml.store import CardQuery
from opsml.store._schema import CARD_REGISTRIES
from opsml.types import RegistryType
from opsml.version import VersionQuery

__all__ = ["create_app"]

_log = logging.getLogger("opsml.server")


def _registry(value: str) -> RegistryType:
    try:
        registry = RegistryType(value)
    except ValueError as exc:
        raise InvalidArgumentError(f"unknown registry {value!r}") from exc
    if registry not in CARD_REGISTRIES:
        raise InvalidArgumentError(f"unknown registry {value!r}")
    return registry


def _query(
    space: str | None, name: str | None, version: str | None, limit: int, uid: str | None = None
) -> CardQuery:
    return CardQuery(
        uid=uid or None,
        space=validate_name(space, "space") if space else None,
        name=validate_name(name, "name") if name else None,
        version=VersionQuery.parse(version) if version else None,
        limit=limit,
    )


def create_app(config: OpsmlConfig) -> FastAPI:
    """Build the server application on the database and storage named by ``config``.

    Args:
        config: The server's own tracking (database) and storage URIs.

    Returns:
        The FastAPI app.
    """
    backend = LocalBackend.from_config(config)
    app = FastAPI(
        title="opsml",
        version=__version__,
        openapi_url="/opsml/api/openapi.json",
        docs_url="/opsml/api/docs",
        redoc_url=None,
    )

    @app.exception_handler(OpsmlError)
    async def _domain_error(_request: Request, exc: OpsmlError) -> JSONResponse:
        return JSONResponse(
            status_code=status_for(exc), content={"error": type(exc).__name__, "detail": str(exc)}
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}"
            for err in exc.errors()
        )
        return JSONResponse(
            status_code=422, content={"error": "InvalidArgumentError", "detail": detail}
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        _log.exception("unhandled error", exc_info=exc)
        return JSONResponse(
            status_code=500, content={"error": "InternalError", "detail": "internal server error"}
        )

    @app.get("/opsml/api/healthcheck")
    def healthcheck() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "version": __version__}

    @app.get("/opsml/api/{registry}/cards")
    def list_cards(
        registry: str,
        space: str | None = None,
        name: str | None = None,
        version: str | None = None,
        uid: str | None = None,
        limit: int = Query(25, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        """Card records, highest version first."""
        records = backend.list_cards(_registry(registry), _query(space, name, version, limit, uid))
        return [record.model_dump() for record in records]

    @app.get("/opsml/api/{registry}/cards/{uid}")
    def get_card(registry: str, uid: str) -> dict[str, Any]:
        """One card's metadata (its ``card.json``)."""
        card = backend.load_card(_registry(registry), CardQuery(uid=uid, limit=1))
        data: dict[str, Any] = json.loads(card.model_dump_json())
        return data

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        counts = {
            r.value: len(backend.list_cards(r, CardQuery(limit=1000))) for r in CARD_REGISTRIES
        }
        return index_page(counts)

    @app.get("/ui/{registry}", response_class=HTMLResponse)
    def registry_ui(
        registry: str,
        space: str = "",
        name: str = "",
        version: str = "",
    ) -> str:
        reg = _registry(registry)
        records = backend.list_cards(reg, _query(space, name, version, 100))
        return registry_page(reg.value, records, {"space": space, "name": name, "version": version})

    @app.get("/ui/{registry}/{uid}", response_class=HTMLResponse)
    def card_ui(registry: str, uid: str) -> str:
        reg = _registry(registry)
        card = backend.load_card(reg, CardQuery(uid=uid, limit=1))
        data = json.loads(card.model_dump_json())
        files = (data.get("manifest") or {}).get("files", {})
        return card_page(reg.value, data, files)

    @app.get("/ui", include_in_schema=False)
    def ui_root() -> RedirectResponse:
        return RedirectResponse("/")

    return app
