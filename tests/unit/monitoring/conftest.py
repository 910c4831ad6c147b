"""A Scouter server stand-in: a real HTTP server on a loopback port that speaks the part of
scouter 0.10.0's API opsml uses, and checks every request against it.

No Scouter server can be installed on this machine (it needs PostgreSQL and its own
binary), so this checks what the real one checks, from scouter 0.10.0's sources
(``crates/scouter_server/src/api/routes``, ``crates/scouter_types/src/contracts``):

- ``GET /scouter/healthcheck`` answers ``{"alive": true}``;
- ``GET /scouter/auth/login`` takes ``Username`` and ``Password`` headers and answers
  ``{"token": ...}`` (401 on bad credentials, 400 without the headers);
- every other route needs ``Authorization: Bearer <token>`` (401 otherwise);
- ``POST /scouter/profile`` takes a ``ProfileRequest`` (``space``, ``drift_type``,
  ``profile``, ``version_request`` with ``version``, ``version_type``, ``pre_tag``,
  ``build_tag``), parses ``profile`` as a profile of ``drift_type`` with scouter-ml itself
  (400 if it is not one), and answers a ``RegisteredProfileResponse``;
- ``PUT /scouter/profile/status`` takes a ``ProfileStatusRequest`` (``name``, ``space``,
  ``version``, ``active``, ``drift_type``, ``deactivate_others``).

Unknown fields, missing fields and wrong types are refused with 422, as axum's ``Json``
extractor does. scouter-ml's own ``ScouterClient`` is run against it too
(``test_client.py``), so the stand-in is checked against the real client.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from scouter.drift import CustomDriftProfile, LLMDriftProfile, PsiDriftProfile, SpcDriftProfile

PROFILE_CLASSES = {
    "Spc": SpcDriftProfile,
    "Psi": PsiDriftProfile,
    "Custom": CustomDriftProfile,
    "LLM": LLMDriftProfile,
}
VERSION_TYPES = {"Major", "Minor", "Patch", "Pre", "Build", "PreBuild"}
_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "profile": {
        "space": (str,),
        "drift_type": (str,),
        "profile": (str,),
        "version_request": (dict,),
    },
    "version_request": {
        "version": (str, type(None)),
        "version_type": (str,),
        "pre_tag": (str, type(None)),
        "build_tag": (str, type(None)),
    },
    "status": {
        "name": (str,),
        "space": (str,),
        "version": (str,),
        "active": (bool,),
        "drift_type": (str, type(None)),
        "deactivate_others": (bool,),
    },
}
_OPTIONAL = {"version_request": {"version", "pre_tag", "build_tag"}, "status": {"drift_type"}}


class RefusedError(Exception):
    """A request the real server would refuse with this status."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


def _check(kind: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise RefusedError(422, f"{kind}: a JSON object is expected")
    fields = _FIELDS[kind]
    unknown = set(body) - set(fields)
    missing = set(fields) - set(body) - _OPTIONAL.get(kind, set())
    if unknown or missing:
        raise RefusedError(422, f"{kind}: unknown {sorted(unknown)}, missing {sorted(missing)}")
    for name, value in body.items():
        if not isinstance(value, fields[name]) or (bool in fields[name]) != isinstance(value, bool):
            raise RefusedError(422, f"{kind}: {name} has the wrong type")
    return body


@dataclass
class ScouterStandIn:
    """The stand-in's state, for tests to inspect and steer."""

    username: str = "admin"
    password: str = "admin"
    url: str = ""
    tokens: set[str] = field(default_factory=set)
    logins: int = 0
    profiles: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    refused: list[tuple[str, int, str]] = field(default_factory=list)
    fail_inserts: bool = False

    def expire_tokens(self) -> None:
        """Make every issued token invalid (as an expired JWT)."""
        self.tokens.clear()

    def login(self, headers: Any) -> dict[str, str]:
        username, password = headers.get("Username"), headers.get("Password")
        if username is None or password is None:
            raise RefusedError(400, "Username or Password header not found")
        if (username, password) != (self.username, self.password):
            raise RefusedError(401, "Unauthorized")
        self.logins += 1
        token = f"token-{self.logins}"
        self.tokens.add(token)
        return {"token": token}

    def authorize(self, headers: Any) -> None:
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self.tokens:
            raise RefusedError(401, "Unauthorized")

    def insert_profile(self, body: Any) -> dict[str, str]:
        request = _check("profile", body)
        version_request = _check("version_request", request["version_request"])
        if version_request["version_type"] not in VERSION_TYPES:
            raise RefusedError(422, f"unknown version_type {version_request['version_type']!r}")
        cls = PROFILE_CLASSES.get(request["drift_type"])
        if cls is None:
            raise RefusedError(422, f"unknown drift_type {request['drift_type']!r}")
        try:
            profile = cls.model_validate_json(request["profile"])
        except BaseException as exc:  # scouter panics on a bad profile
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            raise RefusedError(400, f"Invalid drift profile: {exc}") from None
        if self.fail_inserts:
            raise RefusedError(500, "Failed to insert monitor profile: database is down")
        config = profile.config
        version = version_request["version"] or "0.1.0"
        self.profiles.append({**request, "config": json.loads(request["profile"])["config"]})
        return {
            "space": config.space,
            "name": config.name,
            "version": version,
            "status": "success",
        }

    def update_status(self, body: Any) -> dict[str, str]:
        status = _check("status", body)
        self.statuses.append(status)
        return {"status": "success", "message": "Monitor profile status updated"}


def _handler(state: ScouterStandIn) -> type[BaseHTTPRequestHandler]:
    routes = {
        ("GET", "/scouter/healthcheck"): lambda h, b: {"alive": True},
        ("GET", "/scouter/auth/login"): lambda h, b: state.login(h),
        ("POST", "/scouter/profile"): lambda h, b: state.insert_profile(b),
        ("PUT", "/scouter/profile/status"): lambda h, b: state.update_status(b),
    }
    public = {"/scouter/healthcheck", "/scouter/auth/login"}

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            path = self.path.split("?", 1)[0]
            try:
                route = routes.get((method, path))
                if route is None:
                    raise RefusedError(404, f"no route {method} {path}")
                if path not in public:
                    state.authorize(self.headers)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    raise RefusedError(400, "body is not JSON") from None
                if method in ("POST", "PUT") and self.headers.get_content_type() != (
                    "application/json"
                ):
                    raise RefusedError(415, "Expected `Content-Type: application/json`")
                status, answer = 200, route(self.headers, body)
            except RefusedError as exc:
                state.refused.append((path, exc.status, exc.error))
                status, answer = exc.status, {"error": exc.error}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def do_PUT(self) -> None:
            self._answer("PUT")

        def log_message(self, format: str, *args: Any) -> None:
            del format, args  # quiet

    return Handler


@pytest.fixture
def scouter_server() -> Iterator[ScouterStandIn]:
    """A Scouter stand-in on a free loopback port (``.url``), stopped after the test."""
    state = ScouterStandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
