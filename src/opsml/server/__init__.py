"""The opsml server: HTTP API and web UI over the local backend."""

from __future__ import annotations

from opsml._compat import require
from opsml.settings import OpsmlConfig

__all__ = ["create_app", "serve"]


def create_app(config: OpsmlConfig | None = None) -> object:
    """Build the FastAPI app (``config`` read from the environment when omitted)."""
    require("fastapi", "server")
    from opsml.server._app import create_app as _create

    return _create(config if config is not None else OpsmlConfig.from_env())


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the server with uvicorn until interrupted."""
    uvicorn = require("uvicorn", "server")
    uvicorn.run(create_app(), host=host, port=port, log_level="info")
