"""The HTTP session to an opsml server: keep-alive, retries with backoff, login, errors.

Connection failures and 5xx answers are retried with exponential backoff (never a 4xx: the
request itself is wrong); every request the client retries is idempotent by design
(registrations carry a client-chosen uid, uploads an offset). Error answers are raised as
the same :mod:`opsml.errors` classes the server raised.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from opsml import errors
from opsml.errors import AuthenticationError, OpsmlError, ServerUnavailableError

__all__ = ["ApiClient", "decode_error"]

_FALLBACK = {
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.CardNotFoundError,
    408: errors.ServerUnavailableError,  # the server cut off a request that arrived too slowly
    409: errors.CardStateError,
    413: errors.InvalidArgumentError,
    416: errors.IntegrityError,  # a resumed download asked past the end: the file shrank
    422: errors.InvalidArgumentError,
    429: errors.RateLimitError,
    501: errors.MissingDependencyError,
}


def decode_error(response: httpx.Response) -> OpsmlError:
    """The opsml error an error response describes (``{"error": ..., "detail": ...}``)."""
    body: Any = None
    try:
        body = response.json()
        name, detail = str(body["error"]), str(body["detail"])
    except (ValueError, KeyError, TypeError):
        name, detail = "", f"HTTP {response.status_code}: {response.text[:300]}"
    found = getattr(errors, name, None)
    cls: type[OpsmlError] = (
        found
        if isinstance(found, type) and issubclass(found, OpsmlError)
        else _FALLBACK.get(response.status_code, OpsmlError)
    )
    exc = cls.__new__(cls)
    Exception.__init__(exc, detail)
    for field in cls._wire_fields:
        if isinstance(body, dict) and field in body:
            value = body[field]
            setattr(exc, field, tuple(value) if isinstance(value, list) else value)
    if isinstance(exc, errors.RateLimitError):
        wait = response.headers.get("retry-after", "")
        exc.retry_after = int(wait) if wait.isdigit() else None
    return exc


def _retryable(status: int) -> bool:
    return status >= 500 and status != 501


class ApiClient:
    """A keep-alive HTTP session to one opsml server.

    Args:
        base_url: The server, e.g. ``http://127.0.0.1:8000``.
        username: Account to log in with when the server requires it.
        password: Its password.
        api_token: An API token to send instead of logging in (CI).
        retries: Retries after a connection failure or a 5xx answer.
        backoff: First retry delay in seconds (doubles each time, capped at 8 s).
        timeout: Seconds to wait for a response.
        transport: An httpx transport to use instead of the network (tests, in-process apps).
    """

    def __init__(
        self,
        base_url: str,
        *,
        username: str = "",
        password: str = "",
        api_token: str = "",
        retries: int = 4,
        backoff: float = 0.25,
        timeout: float = 120.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._username = username
        self._password = password
        self._retries = retries
        self._backoff = backoff
        self._token: str | None = api_token or None
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=10.0),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
            headers={"user-agent": "opsml-client"},
            transport=transport,
        )

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if self._token:
            headers["authorization"] = f"Bearer {self._token}"
        return headers

    def _sleep(self, attempt: int) -> None:
        time.sleep(min(self._backoff * (2**attempt), 8.0))

    def login(self) -> None:
        """Get a fresh access token with the configured credentials.

        Raises:
            AuthenticationError: No credentials configured, or the server refused them.
        """
        if not self._username:
            raise AuthenticationError(
                f"{self.base_url} requires a login: set OPSML_USERNAME and OPSML_PASSWORD, "
                "or OPSML_API_TOKEN"
            )
        self._token = None
        body = self.request(
            "POST",
            "/opsml/api/auth/token",
            json={"username": self._username, "password": self._password},
            _login=True,
        ).json()
        self._token = str(body["access_token"])

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | Iterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
        _login: bool = False,
    ) -> httpx.Response:
        """Send a request; retry connection failures and 5xx; raise opsml errors for 4xx/5xx.

        Args:
            method: HTTP method.
            url: Path under the server (or an absolute URL).
            params: Query parameters.
            json: A JSON body.
            content: A raw body: bytes, or an iterator of bytes (then pass ``retry=False``:
                a consumed iterator cannot be sent again).
            headers: Extra headers.
            retry: Retry connection failures and 5xx answers.

        Raises:
            ServerUnavailableError: The server could not be reached after the retries.
            OpsmlError: The server answered with an error (its own class).
        """
        relogged = False
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    content=content,
                    headers=self._headers(headers),
                )
            except httpx.TransportError as exc:
                if attempt >= self._retries or not retry:
                    raise ServerUnavailableError(
                        f"cannot reach the opsml server at {self.base_url} after "
                        f"{attempt + 1} attempts: {type(exc).__name__}: {exc}"
                    ) from exc
                self._sleep(attempt)
                attempt += 1
                continue
            if response.status_code == 401 and not _login and not relogged and self._username:
                relogged = True
                self.login()
                continue
            if retry and _retryable(response.status_code) and attempt < self._retries:
                self._sleep(attempt)
                attempt += 1
                continue
            if response.status_code == 401 and not self._username:
                raise AuthenticationError(
                    f"{decode_error(response)} ({self.base_url} requires a login: set "
                    "OPSML_USERNAME and OPSML_PASSWORD, or OPSML_API_TOKEN)"
                )
            if response.status_code >= 400:
                raise decode_error(response)
            return response

    def json(self, method: str, url: str, **kwargs: Any) -> Any:
        """:meth:`request`, returning the decoded JSON body."""
        return self.request(method, url, **kwargs).json()

    @contextmanager
    def stream(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        allow: Collection[int] = (),
    ) -> Iterator[httpx.Response]:
        """A streaming GET (no retries here: callers resume with ``Range``).

        Args:
            url: Path under the server.
            headers: Extra headers.
            allow: Error statuses to hand to the caller instead of raising (e.g. ``416``).

        Raises:
            ServerUnavailableError: The connection failed.
            OpsmlError: The server answered with an error.
        """
        relogged = False
        while True:
            try:
                with self._http.stream("GET", url, headers=self._headers(headers)) as response:
                    if response.status_code == 401 and not relogged and self._username:
                        relogged = True
                    elif response.status_code >= 400 and response.status_code not in allow:
                        response.read()
                        raise decode_error(response)
                    else:
                        yield response
                        return
            except httpx.TransportError as exc:
                raise ServerUnavailableError(
                    f"lost the connection to {self.base_url}: {type(exc).__name__}: {exc}"
                ) from exc
            self.login()
