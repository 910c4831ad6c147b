"""The opsml server: HTTP API and web UI over the local backend."""

from __future__ import annotations

from typing import Any

from opsml._compat import require

__all__ = ["create_app", "serve"]


def create_app(config: Any = None) -> Any:
    """Build the FastAPI app (a ``ServerConfig`` read from the environment when omitted)."""
    require("fastapi", "server")
    from opsml.server._app import create_app as _create
    from opsml.server._config import ServerConfig

    return _create(config if config is not None else ServerConfig.from_env())


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Run the server with uvicorn until interrupted.

    Args:
        host: Interface to bind.
        port: Port to listen on.
        workers: Worker processes (each a full replica; they share database and storage).
    """
    uvicorn = require("uvicorn", "server")
    if workers > 1:
        uvicorn.run(
            "opsml.server:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
        )
        return
    uvicorn.run(create_app(), host=host, port=port, log_level="info", timeout_keep_alive=30)
