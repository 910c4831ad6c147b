"""The client's HTTP policy: retries, backoff, login, error classes."""

from __future__ import annotations

import httpx
import pytest

from opsml.client import ApiClient
from opsml.errors import (
    AuthenticationError,
    CardNotFoundError,
    InvalidVersionError,
    MissingDependencyError,
    OpsmlError,
    RateLimitError,
    ServerUnavailableError,
    VersionConflictError,
)


def _client(handler: httpx.MockTransport, retries: int = 3) -> ApiClient:
    # check_server=False: these handlers answer only the paths under test (the handshake has
    # tests of its own against real servers, tests/unit/client/test_handshake.py).
    return ApiClient(
        "http://opsml.test",
        retries=retries,
        backoff=0.001,
        transport=handler,
        check_server=False,
    )


def test_server_errors_come_back_as_the_same_classes() -> None:
    answers = {
        "/a": (404, {"error": "CardNotFoundError", "detail": "no such card"}),
        "/b": (409, {"error": "VersionConflictError", "detail": "1.0.0 is taken"}),
        "/c": (422, {"error": "InvalidVersionError", "detail": "bad query"}),
        "/d": (501, {"error": "MissingDependencyError", "detail": "install opsml[x]"}),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        status, body = answers[request.url.path]
        return httpx.Response(status, json=body)

    api = _client(httpx.MockTransport(handler))
    for path, cls in [
        ("/a", CardNotFoundError),
        ("/b", VersionConflictError),
        ("/c", InvalidVersionError),
        ("/d", MissingDependencyError),
    ]:
        with pytest.raises(cls) as info:
            api.request("GET", path)
        assert str(info.value) == answers[path][1]["detail"]


def test_unknown_error_names_fall_back_by_status() -> None:
    api = _client(httpx.MockTransport(lambda r: httpx.Response(404, text="<html>nope</html>")))
    with pytest.raises(CardNotFoundError, match="HTTP 404"):
        api.request("GET", "/x")
    api = _client(
        httpx.MockTransport(lambda r: httpx.Response(418, json={"error": "Nope", "detail": "d"}))
    )
    with pytest.raises(OpsmlError):
        api.request("GET", "/x")


def test_5xx_is_retried_then_succeeds_and_4xx_is_not() -> None:
    calls = {"5xx": 0, "4xx": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/flaky":
            calls["5xx"] += 1
            if calls["5xx"] < 3:
                return httpx.Response(503, json={"error": "MetadataStoreError", "detail": "busy"})
            return httpx.Response(200, json={"ok": True})
        calls["4xx"] += 1
        return httpx.Response(422, json={"error": "InvalidArgumentError", "detail": "bad"})

    api = _client(httpx.MockTransport(handler))
    assert api.json("GET", "/flaky") == {"ok": True}
    assert calls["5xx"] == 3
    with pytest.raises(OpsmlError):
        api.request("GET", "/bad")
    assert calls["4xx"] == 1, "a 4xx is the request's fault and is never retried"


def test_connection_errors_are_retried_then_raise_a_clear_error() -> None:
    attempts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        raise httpx.ConnectError("connection refused", request=request)

    api = _client(httpx.MockTransport(handler), retries=2)
    with pytest.raises(ServerUnavailableError, match="after 3 attempts"):
        api.request("GET", "/x")
    assert attempts == 3


def test_401_logs_in_with_the_configured_credentials_once() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/opsml/api/auth/token":
            return httpx.Response(200, json={"access_token": "t0k", "expires_in": 60})
        seen.append(request.headers.get("authorization"))
        if request.headers.get("authorization") != "Bearer t0k":
            return httpx.Response(401, json={"error": "AuthenticationError", "detail": "log in"})
        return httpx.Response(200, json={"ok": True})

    api = ApiClient(
        "http://opsml.test",
        username="u",
        password="p",
        transport=httpx.MockTransport(handler),
        check_server=False,
    )
    assert api.json("GET", "/x") == {"ok": True}
    assert seen == [None, "Bearer t0k"]


def test_401_without_credentials_is_an_authentication_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "AuthenticationError", "detail": "log in first"})

    with pytest.raises(AuthenticationError, match="log in first"):
        _client(httpx.MockTransport(handler)).request("GET", "/x")


def test_rate_limits_carry_the_servers_retry_after_and_408_means_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            return httpx.Response(
                429,
                json={"error": "RateLimitError", "detail": "too many failed logins"},
                headers={"retry-after": "7"},
            )
        return httpx.Response(408, json={"error": "RequestTimeoutError", "detail": "too slow"})

    api = _client(httpx.MockTransport(handler))
    with pytest.raises(RateLimitError, match="too many failed logins") as info:
        api.request("POST", "/login")
    assert info.value.retry_after == 7
    with pytest.raises(ServerUnavailableError, match="too slow"):
        api.request("PUT", "/slow", retry=False)
