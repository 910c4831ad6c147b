"""A client of the Scouter server's HTTP API (scouter 0.10.0's routes under ``/scouter``).

Only what the registry needs: log in, insert a drift profile, change a profile's status,
check health. Authentication is scouter's: ``GET /scouter/auth/login`` with ``Username`` and
``Password`` headers answers ``{"token": ...}``, sent as ``Authorization: Bearer`` (or a
``SCOUTER_AUTH_TOKEN`` is used as it is); an expired token is renewed once. Every failure
becomes :class:`~opsml.errors.MonitoringError`.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from opsml.errors import MonitoringError
from opsml.monitoring._contracts import (
    DriftProfileRegistration,
    ScouterProfileRequest,
    ScouterProfileStatus,
)
from opsml.settings import ScouterConfig

__all__ = ["ScouterServer"]

_PREFIX = "/scouter"


class ScouterServer:
    """The Scouter server of a :class:`~opsml.settings.ScouterConfig`.

    Args:
        config: Where the server is and how to log in.
        transport: An httpx transport (tests); the network when omitted.
        timeout: Seconds per request.

    Raises:
        MonitoringError: ``config`` names no server.
    """

    def __init__(
        self,
        config: ScouterConfig,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        if not config.enabled:
            raise MonitoringError("no Scouter server is configured (set SCOUTER_SERVER_URI)")
        self.config = config
        self._transport = transport
        self._timeout = timeout
        self._lock = threading.Lock()
        self._token = config.auth_token

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.config.server_uri + _PREFIX,
            transport=self._transport,
            timeout=self._timeout,
        )

    def _failed(self, action: str, exc: Exception) -> MonitoringError:
        return MonitoringError(
            f"could not {action}: the Scouter server at {self.config.server_uri} "
            f"cannot be reached ({exc})"
        )

    def _login(self, client: httpx.Client) -> str:
        response = client.get(
            "/auth/login",
            headers={"Username": self.config.username, "Password": self.config.password},
        )
        if response.status_code != 200:
            raise MonitoringError(
                f"the Scouter server at {self.config.server_uri} refused the login of "
                f"{self.config.username!r} (HTTP {response.status_code}): {_detail(response)}"
            )
        try:
            token = response.json()["token"]
        except (ValueError, KeyError, TypeError) as exc:
            raise MonitoringError("the Scouter server's login answer holds no token") from exc
        return str(token)

    def _send(self, action: str, method: str, path: str, body: dict[str, Any]) -> Any:
        try:
            with self._client() as client:
                for attempt in range(2):
                    with self._lock:
                        if not self._token:
                            self._token = self._login(client)
                        token = self._token
                    response = client.request(
                        method, path, json=body, headers={"Authorization": f"Bearer {token}"}
                    )
                    renewable = not self.config.auth_token and attempt == 0
                    if response.status_code == 401 and renewable:
                        with self._lock:
                            if self._token == token:
                                self._token = ""
                        continue
                    break
        except httpx.HTTPError as exc:
            raise self._failed(action, exc) from exc
        if not response.is_success:
            raise MonitoringError(
                f"could not {action}: the Scouter server answered HTTP "
                f"{response.status_code}: {_detail(response)}"
            )
        try:
            return response.json()
        except ValueError:
            return None

    def healthy(self) -> bool:
        """Whether the server answers its health check (``GET /scouter/healthcheck``)."""
        try:
            with self._client() as client:
                response = client.get("/healthcheck")
            return response.is_success and bool(response.json().get("alive"))
        except (httpx.HTTPError, ValueError, AttributeError):
            return False

    def insert_profile(self, request: ScouterProfileRequest) -> Any:
        """Insert a drift profile (``POST /scouter/profile``).

        Returns:
            The server's answer (``{"space", "name", "version", "status"}``).

        Raises:
            MonitoringError: The server refused it or cannot be reached.
        """
        what = f"register the {request.drift_type} drift profile of space {request.space!r}"
        return self._send(what, "POST", "/profile", request.model_dump())

    def update_profile_status(self, status: ScouterProfileStatus) -> None:
        """Activate or deactivate a profile (``PUT /scouter/profile/status``).

        Raises:
            MonitoringError: The server refused it or cannot be reached.
        """
        what = (
            f"set the status of the {status.drift_type or 'drift'} profile of "
            f"{status.space}/{status.name} v{status.version}"
        )
        self._send(what, "PUT", "/profile/status", status.model_dump())

    def register(self, registrations: list[DriftProfileRegistration]) -> None:
        """Insert each profile, then set its status where one is asked for.

        Raises:
            MonitoringError: The server refused one or cannot be reached.
        """
        for registration in registrations:
            self.insert_profile(registration.request)
            if registration.status is not None:
                self.update_profile_status(registration.status)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])[:300]
    return str(body)[:300]
