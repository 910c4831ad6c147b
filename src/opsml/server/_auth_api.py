"""The routes anyone may call: the health check, login, token refresh and the device login
of single sign-on (``opsml login``)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from opsml._version import __version__
from opsml.errors import InvalidArgumentError
from opsml.server._models import (
    ErrorResponse,
    HealthResponse,
    LoginRequest,
    RefreshRequest,
    TokenResponse,
)
from opsml.server._oidc import OidcClient, provision_user
from opsml.server._state import ERRORS, ServerState, StateDep
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


class DeviceLogin(BaseModel):
    """A device login under way: open ``verification_uri`` and enter ``user_code`` (or open
    ``verification_uri_complete``), then poll ``POST /auth/device/token`` with
    ``device_code`` every ``interval`` seconds."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class DevicePoll(BaseModel):
    """``POST /auth/device/token``."""

    device_code: str = Field(min_length=1, max_length=4096)


class DeviceTokens(BaseModel):
    """The device login's state: ``pending`` (poll again), ``slow_down`` (poll less often)
    or ``ok`` with a token pair."""

    status: Literal["pending", "slow_down", "ok"]
    access_token: str | None = None
    refresh_token: str | None = None
    expires_in: int | None = None


def _sso(st: ServerState) -> OidcClient:
    if st.oidc is None:
        raise InvalidArgumentError("this server has no single sign-on (OPSML_OIDC_ISSUER)")
    return st.oidc


@public.post("/auth/device", response_model=DeviceLogin, tags=["auth"])
def device_login(st: StateDep) -> DeviceLogin:
    """Start a single sign-on login for a device without a browser (the CLI's ``opsml
    login``): the provider's device authorization flow, run by the server."""
    start = _sso(st).start_device()
    return DeviceLogin(
        device_code=start.device_code,
        user_code=start.user_code,
        verification_uri=start.verification_uri,
        verification_uri_complete=start.verification_uri_complete,
        expires_in=start.expires_in,
        interval=start.interval,
    )


@public.post("/auth/device/token", response_model=DeviceTokens, tags=["auth"])
def device_token(st: StateDep, body: DevicePoll, request: Request) -> DeviceTokens:
    """Whether the user finished a device login; once they did, an opsml token pair (the
    user is created at their first login, as in the browser)."""
    claims = _sso(st).poll_device(body.device_code)
    if isinstance(claims, str):
        return DeviceTokens(status="pending" if claims == "authorization_pending" else "slow_down")
    assert st.config.oidc is not None
    username = provision_user(st.auth_store, st.config.oidc, claims)
    request.state.audit_user = username
    pair = st.security.issue(username)
    return DeviceTokens(
        status="ok",
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )
