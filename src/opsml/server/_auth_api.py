"""The routes anyone may call: the health check, login and token refresh."""

from __future__ import annotations

from fastapi import APIRouter, Request

from opsml._version import __version__
from opsml.errors import InvalidArgumentError
from opsml.server._models import (
    ErrorResponse,
    HealthResponse,
    LoginRequest,
    RefreshRequest,
    TokenResponse,
)
from opsml.server._state import ERRORS, StateDep
from opsml.server._throttle import LoginThrottle

__all__ = ["public"]

public = APIRouter(prefix="/opsml/api", responses=ERRORS)


@public.get("/healthcheck", response_model=HealthResponse, tags=["server"])
def healthcheck(
    st: StateDep,
) -> HealthResponse:
    """Liveness: the process answers."""
    return HealthResponse(status="ok", version=__version__)


@public.post(
    "/auth/token",
    response_model=TokenResponse,
    tags=["auth"],
    responses={
        429: {
            "model": ErrorResponse,
            "description": "Too many failed logins from this address: wait and try again.",
            "headers": {
                "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
            },
        }
    },
)
def login(st: StateDep, body: LoginRequest, request: Request) -> TokenResponse:
    """Exchange a user's credentials for a short-lived access token and a refresh token.

    Failed logins are throttled per (client address, user name) with a growing delay, and
    per client address (``429`` with ``Retry-After``); see ``docs/auth.md``.
    """
    request.state.audit_user = body.username[:128]
    if not st.config.auth:
        raise InvalidArgumentError("this server runs without authentication: no login needed")
    throttle = LoginThrottle(st.auth_store, st.config)
    pair = throttle.login(st.security, request, body.username, body.password)
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )


@public.post("/auth/refresh", response_model=TokenResponse, tags=["auth"])
def refresh(st: StateDep, body: RefreshRequest) -> TokenResponse:
    """Exchange a refresh token (valid once) for a new token pair."""
    if not st.config.auth:
        raise InvalidArgumentError("this server runs without authentication: no login needed")
    pair = st.security.refresh(body.refresh_token)
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )
