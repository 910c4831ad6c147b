"""The HTTP session to an opsml server: keep-alive, retries with backoff, login, errors.

Connection failures and 5xx answers are retried with exponential backoff (never a 4xx: the
request itself is wrong); every request the client retries is idempotent by design
(registrations carry a client-chosen uid, uploads an offset). Error answers are raised as
the same :mod:`opsml.errors` classes the server raised.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from opsml import errors
from opsml.client._credentials import CredentialStore, StoredTokens
from opsml.errors import AuthenticationError, OpsmlError, ServerUnavailableError

__all__ = ["TRANSFER_READ_TIMEOUT", "ApiClient", "decode_error"]

TRANSFER_READ_TIMEOUT = 120.0
"""The least a file transfer waits for the next byte (the server may hash or move a large
file before it answers an upload's last chunk)."""
_HEALTH = "/opsml/api/healthcheck"

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


def _opsml_version(response: httpx.Response) -> str | None:
    """The version an opsml server's health check reports, ``None`` if ``response`` is not one."""
    if response.status_code != 200:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("status") == "ok":
        version = body.get("version")
        if isinstance(version, str) and version:
            return version
    return None


class ApiClient:
    """A keep-alive HTTP session to one opsml server.

    Args:
        base_url: The server, e.g. ``http://127.0.0.1:8000``.
        username: Account to log in with when the server requires it.
        password: Its password.
        api_token: An API token to send instead of logging in (CI).
        retries: Retries after a connection failure or a 5xx answer.
        backoff: First retry delay in seconds (doubles each time, capped at 8 s).
        timeout: The longest wait in seconds for the next byte of an answer (an inactivity
            timeout: a transfer never times out while bytes keep flowing); file transfers
            wait at least :data:`TRANSFER_READ_TIMEOUT`.
        connect_timeout: Seconds to open a connection.
        total_timeout: Seconds after which a call stops retrying (file transfers excepted:
            they resume where they stopped instead).
        check_server: Check on first use that ``base_url`` is an opsml server (one
            ``GET /opsml/api/healthcheck``, remembered), so a wrong URL fails with a
            message that says so instead of a puzzling error of a later call.
        transport: An httpx transport to use instead of the network (tests, in-process apps).
        credentials: The tokens ``opsml login`` stored, used when there is neither a
            username nor an API token, and refreshed when the access token runs out.
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
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        total_timeout: float = 60.0,
        check_server: bool = True,
        transport: httpx.BaseTransport | None = None,
        credentials: CredentialStore | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._credentials = None if api_token or username else credentials
        stored = self._credentials.load(self.base_url) if self._credentials else None
        self._refresh_token = stored.refresh_token if stored else None
        api_token = api_token or (stored.access_token if stored else "")
        self._username = username
        self._password = password
        self._retries = retries
        self._backoff = backoff
        self._total = total_timeout
        self._token: str | None = api_token or None
        self._timeouts = httpx.Timeout(timeout, connect=connect_timeout)
        self._transfer_timeouts = httpx.Timeout(
            max(timeout, TRANSFER_READ_TIMEOUT), connect=connect_timeout
        )
        self._checked = not check_server
        self._check_lock = threading.Lock()
        self.server_version: str | None = None
        """The server's opsml version, once the first call checked it (``None`` before)."""
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=self._timeouts,
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

    def check_server(self) -> str:
        """Make sure ``base_url`` is an opsml server (once; later calls return at once).

        Returns:
            The server's opsml version.

        Raises:
            ServerUnavailableError: Nothing answers there, it accepted the connection but
                sent no answer in time, or what answers is not an opsml server (the message
                says which, and the URL to use instead when the URL has a path).
        """
        if self._checked and self.server_version is not None:
            return self.server_version
        with self._check_lock:
            if not self._checked:
                self.server_version = self._handshake()
                self._checked = True
        return self.server_version or ""

    def _handshake(self) -> str:
        url = f"{self.base_url}{_HEALTH}"
        timeouts = httpx.Timeout(
            min(self._timeouts.read or 10.0, 10.0), connect=self._timeouts.connect
        )
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                response = self._http.get(_HEALTH, timeout=timeouts)
            except httpx.TimeoutException as exc:
                if isinstance(exc, httpx.ConnectTimeout) and self._may_retry(attempt, started):
                    self._sleep(attempt)
                    attempt += 1
                    continue
                raise ServerUnavailableError(
                    f"{self.base_url} accepted no request in time ({type(exc).__name__}): "
                    "a server that answers nothing is not an opsml server, or it is stuck; "
                    "check OPSML_TRACKING_URI (OPSML_CLIENT_READ_TIMEOUT sets the wait)"
                ) from exc
            except httpx.TransportError as exc:
                if self._may_retry(attempt, started):
                    self._sleep(attempt)
                    attempt += 1
                    continue
                raise ServerUnavailableError(
                    f"cannot reach the opsml server at {self.base_url} after {attempt + 1} "
                    f"attempts: {type(exc).__name__}: {exc}"
                ) from exc
            if _retryable(response.status_code) and self._may_retry(attempt, started):
                self._sleep(attempt)
                attempt += 1
                continue
            break
        version = _opsml_version(response)
        if version is not None:
            return version
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        path = httpx.URL(self.base_url).path.rstrip("/")
        fix = (
            f"OPSML_TRACKING_URI must be the server's root URL, without the path {path!r}: "
            f"{self.base_url[: len(self.base_url) - len(path)]}"
            if path
            else "check OPSML_TRACKING_URI (the URL of an opsml server started with "
            "`opsml server start`)"
        )
        raise ServerUnavailableError(
            f"{self.base_url} is not an opsml server: GET {url} answered "
            f"{response.status_code} ({kind}); {fix}"
        )

    def _may_retry(self, attempt: int, started: float) -> bool:
        """Whether one more attempt fits the retries and the total timeout."""
        wait = min(self._backoff * (2**attempt), 8.0)
        return attempt < self._retries and time.monotonic() - started + wait < self._total

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

    def _refresh_stored(self) -> None:
        """Exchange the stored refresh token (valid once) for a new pair, stored at once.

        Raises:
            AuthenticationError: The stored tokens are no longer valid.
        """
        assert self._credentials is not None
        assert self._refresh_token is not None
        response = self._http.post(
            "/opsml/api/auth/refresh", json={"refresh_token": self._refresh_token}
        )
        self._refresh_token = None
        if response.status_code != 200:
            self._credentials.save(self.base_url, None)
            raise AuthenticationError(
                f"the login to {self.base_url} ran out: run `opsml login` again"
            )
        body = response.json()
        self._token = str(body["access_token"])
        self._refresh_token = str(body["refresh_token"])
        self._credentials.save(self.base_url, StoredTokens(self._token, self._refresh_token))

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
        transfer: bool = False,
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
            transfer: The request moves file bytes: the longer transfer read timeout, and
                no total timeout (the caller resumes).

        Raises:
            ServerUnavailableError: The server could not be reached after the retries.
            OpsmlError: The server answered with an error (its own class).
        """
        self.check_server()
        relogged = False
        attempt = 0
        started = time.monotonic()
        while True:
            try:
                response = self._http.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    content=content,
                    headers=self._headers(headers),
                    timeout=self._transfer_timeouts if transfer else self._timeouts,
                )
            except httpx.TransportError as exc:
                if not retry or not (
                    attempt < self._retries if transfer else self._may_retry(attempt, started)
                ):
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
            if response.status_code == 401 and not relogged and self._refresh_token:
                relogged = True
                self._refresh_stored()
                continue
            if (
                retry
                and _retryable(response.status_code)
                and (attempt < self._retries if transfer else self._may_retry(attempt, started))
            ):
                self._sleep(attempt)
                attempt += 1
                continue
            if response.status_code == 401 and not self._username:
                raise AuthenticationError(
                    f"{decode_error(response)} ({self.base_url} requires a login: run "
                    "`opsml login`, or set OPSML_USERNAME and OPSML_PASSWORD, or "
                    "OPSML_API_TOKEN)"
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
        self.check_server()
        relogged = False
        while True:
            try:
                with self._http.stream(
                    "GET", url, headers=self._headers(headers), timeout=self._transfer_timeouts
                ) as response:
                    if (
                        response.status_code == 401
                        and not relogged
                        and (self._username or self._refresh_token)
                    ):
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
            # Refused once: log in again, or refresh the tokens `opsml login` stored.
            if self._username:
                self.login()
            else:
                self._refresh_stored()
