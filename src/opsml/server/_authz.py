"""Who may call which route, and the middleware that guards every request.

Every API route declares what it needs with ``dependencies=[access(Permission.X, Scope.Y)]``:
the permission, and where the space it applies to comes from (the card the URL names, the
card in the body, the ``space`` query or path parameter, or nothing for account routes). A test
enumerates the app's routes and fails when one declares nothing.

Middleware (outermost first):

- ``HostGuard``: answers only ``Host`` headers in ``OPSML_ALLOWED_HOSTS`` (DNS rebinding).
- ``BodyLimit``: refuses bodies over ``OPSML_MAX_BODY_BYTES`` except file uploads, whose
  size the card's manifest bounds.
- ``SameOrigin``: a state-changing request authenticated by the UI's cookie must come from
  the server's own pages (``Origin``/``Referer`` match the host): CSRF protection on top of
  ``SameSite=Strict`` cookies.
- ``JsonText``: a JSON body must be UTF-8 holding valid Unicode (no lone ``\ud800``
  escapes, text that no database and no JSON answer can carry).
- ``AuditLog``: records every write and every denied request (user, time, operation,
  resource, outcome, status, client address) in the audit table.

The uid of the card a route names is checked before the permission lookup reads the
database, so a malformed one is refused with 422 and never reaches SQL.
"""

from __future__ import annotations

import enum
import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import anyio
from fastapi import Depends, Header, Request

from opsml._validation import check_uid
from opsml.errors import AuthenticationError, CardNotFoundError, InvalidArgumentError
from opsml.server._security import Permission, Principal
from opsml.store import AuditEntry
from opsml.types import RegistryType

__all__ = [
    "COOKIE",
    "AuditLog",
    "BodyLimit",
    "CardLookup",
    "HostGuard",
    "JsonText",
    "SameOrigin",
    "Scope",
    "access",
    "caller",
    "current_user",
    "declared_access",
    "resolve_user",
    "shared_card",
]

COOKIE = "opsml_token"
GUEST = "guest"
GUEST_PRINCIPAL = Principal(GUEST, unrestricted=True)
_log = logging.getLogger("opsml.server")

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


class Scope(enum.Enum):
    """Where the space a permission applies to comes from."""

    Card = "card"  # the card named by {registry}/{uid} in the URL (pending ones included)
    NewCard = "new_card"  # the "card" object of the JSON body
    UpdatedCard = "updated_card"  # both the stored card and the body's card
    Query = "query"  # the ``space`` query parameter; without one, results are filtered
    Path = "path"  # the ``{space}`` path parameter (aliases of one card name)
    Account = "account"  # no space: any authenticated user (their own account)
    Server = "server"  # no space: admins only (use with Permission.Admin)


def _state(request: Request) -> Any:
    return request.app.state.opsml


def _token(request: Request, authorization: str | None) -> str:
    """The bearer token of a request (or the UI's cookie).

    Raises:
        AuthenticationError: There is none.
    """
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        token = request.cookies.get(COOKIE, "")
    if not token:
        raise AuthenticationError("log in first: missing bearer token")
    return token.strip()


def _known_user(request: Request) -> Principal | None:
    """The caller when no database read is needed to know them: already identified for
    this request, or ``guest`` on a server without authentication."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    if not _state(request).config.auth:
        request.state.principal = GUEST_PRINCIPAL
        return GUEST_PRINCIPAL
    return None


def resolve_user(request: Request, authorization: str | None) -> Principal:
    """The caller (see :func:`current_user`), read from the database in this thread when
    needed: for code that runs in a worker thread already (the UI's pages).

    Raises:
        AuthenticationError: No token, or an invalid, expired or revoked one.
    """
    known = _known_user(request)
    if known is not None:
        return known
    principal: Principal = _state(request).security.authenticate(_token(request, authorization))
    request.state.principal = principal
    return principal


async def current_user(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    """The caller: ``guest`` with every permission when auth is off, else the user a valid
    bearer token (access JWT or API token) or the UI's cookie identifies.

    Runs on the event loop; a token is checked by :meth:`ServerState.authenticate` (it
    reads the database: on the loop for SQLite and PostgreSQL, else in a worker thread).

    Raises:
        AuthenticationError: No token, or an invalid, expired or revoked one.
    """
    known = _known_user(request)
    if known is not None:
        return known
    token = _token(request, authorization)
    st = _state(request)
    principal: Principal = await st.authenticate(token)
    request.state.principal = principal
    return principal


def caller(request: Request) -> Principal:
    """The caller the route's permission check identified (every route declares one, and
    it runs before the route), without another dependency to resolve."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise RuntimeError("the route declares no access() check")  # a programming error
    return principal


@dataclass(frozen=True)
class CardLookup:
    """The record of the card a route's URL names, as the permission check read it, so the
    route answers from the same row instead of reading it again (``row`` is ``None`` when
    there is no such card, pending ones included)."""

    registry: RegistryType
    uid: str
    row: Any


def shared_card(request: Request, registry: RegistryType, uid: str) -> CardLookup | None:
    """The card record the permission check of this request read, if it read this one."""
    found = getattr(request.state, "card", None)
    if isinstance(found, CardLookup) and found.registry is registry and found.uid == uid:
        return found
    return None


def _lookup(store: Any, registry: RegistryType, uid: str) -> CardLookup:
    try:
        row = store.get(registry, uid, include_pending=True)
    except CardNotFoundError:
        row = None  # the route answers 404 itself
    return CardLookup(registry, uid, row)


async def _body_space(request: Request) -> str | None:
    try:
        body = await request.json()
    except ValueError:
        return None  # the route's validation answers 422
    card = body.get("card") if isinstance(body, dict) else None
    space = card.get("space") if isinstance(card, dict) else None
    return space.strip().lower() if isinstance(space, str) else None


class _Access:
    """The dependency behind :func:`access` (kept inspectable for the route audit test)."""

    def __init__(self, permission: Permission, scope: Scope) -> None:
        self.permission = permission
        self.scope = scope

    async def __call__(
        self, request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Principal:
        request.state.operation = f"{self.permission.value}:{self.scope.value}"
        if self.scope in (Scope.Card, Scope.UpdatedCard):
            principal, space = await self._card_space(request, authorization)
            spaces = [space]
        else:
            principal = await current_user(request, authorization)
            spaces = []
        if self.scope is Scope.Account:
            return principal
        if self.scope is Scope.Server:
            principal.require(Permission.Admin, None)
            return principal
        if self.scope is Scope.Query:
            space = request.query_params.get("space") or None
            principal.require(self.permission, space.lower() if space else None)
            return principal
        if self.scope is Scope.Path:
            principal.require(self.permission, str(request.path_params["space"]).lower())
            return principal
        if self.scope in (Scope.NewCard, Scope.UpdatedCard):
            spaces.append(await _body_space(request))
        for space in spaces:
            if space is not None:
                principal.require(self.permission, space)
        return principal

    async def _card_space(
        self, request: Request, authorization: str | None
    ) -> tuple[Principal, str | None]:
        """The caller and the space of the card the URL names, in at most one read
        (:meth:`ServerState.read`; two reads awaited on the event loop with PostgreSQL's
        loop reads): verifying the token and reading the record share it.
        The record is read only when a check needs its space, or when a token is verified
        anyway: either way the route gets it (:func:`shared_card`) and does not read it
        again."""
        known = _known_user(request)
        token = _token(request, authorization) if known is None else ""  # 401 comes first
        try:
            registry = RegistryType(request.path_params["registry"])
        except ValueError:
            # Not a registry: the route's validation answers 422 (for a known caller).
            return known or await current_user(request, authorization), None
        uid = request.path_params["uid"]
        try:
            check_uid(uid)  # before the database sees it
        except InvalidArgumentError:
            if known is None:
                await current_user(request, authorization)
            raise
        if known is not None and known.allows_everywhere(self.permission):
            return known, None  # nothing to check: the route reads the record itself
        st = _state(request)
        if st.loop_reads is not None:  # both reads on the event loop
            principal = known or await st.authenticate(token)
            try:
                row = await st.card_record(registry, uid, include_pending=True)
            except CardNotFoundError:
                row = None  # the route answers 404 itself
            found = CardLookup(registry, uid, row)
        else:  # both reads in one call (on the loop for SQLite, else in one thread hop)

            def work() -> tuple[Principal, CardLookup]:
                principal = known or st.security.authenticate(token)
                return principal, _lookup(st.backend.store, registry, uid)

            principal, found = await st.read(work)
        request.state.principal = principal
        request.state.card = found
        return principal, None if found.row is None else str(found.row.space)

    def __repr__(self) -> str:
        return f"access({self.permission.value}, {self.scope.value})"


def access(permission: Permission, scope: Scope) -> Any:
    """A route dependency: the caller needs ``permission`` in the space ``scope`` names."""
    return Depends(_Access(permission, scope))


def declared_access(route: Any) -> _Access | None:
    """The access a route declared (``None``: none), for the route audit test."""
    dependant = getattr(route, "dependant", None)
    for dep in getattr(dependant, "dependencies", []):
        if isinstance(dep.call, _Access):
            return dep.call
    return None


def _send_json(status: int, error: str, detail: str) -> list[dict[str, Any]]:
    body = json.dumps({"error": error, "detail": detail}).encode()
    return [
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        },
        {"type": "http.response.body", "body": body},
    ]


def _header(scope: MutableMapping[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


class HostGuard:
    """Answer only requests whose ``Host`` is allowed (a rebound DNS name gets 400), except
    on ``open_paths`` (probes and metric scrapers, which use a replica's own address)."""

    def __init__(
        self, app: ASGIApp, allowed: tuple[str, ...], open_paths: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.any = "*" in allowed
        self.allowed = {h.lower() for h in allowed}
        self.open_paths = open_paths

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not self.any and scope["path"] not in self.open_paths:
            host = _header(scope, b"host").lower()
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if host not in self.allowed and name not in self.allowed:
                for message in _send_json(
                    400, "InvalidHostError", "Host header not allowed (set OPSML_ALLOWED_HOSTS)"
                ):
                    await send(message)
                return
        await self.app(scope, receive, send)


_UPLOAD = re.compile(r"^/opsml/api/[a-z]+/cards/[^/]+/(artifacts/)?files/")


class BodyLimit:
    """Refuse request bodies over the limit (file uploads excepted: the manifest bounds
    them), with 413 and a JSON body."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or _UPLOAD.match(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length.isdigit() and int(length) > self.limit:
            for message in _send_json(413, "InvalidArgumentError", "request body too large"):
                await send(message)
            return
        received = 0
        started = False

        async def counting_receive() -> Any:
            nonlocal received
            message = await receive()
            if message.get("type") == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLargeError
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal started
            started = started or message.get("type") == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLargeError:
            if not started:
                for message in _send_json(413, "InvalidArgumentError", "request body too large"):
                    await send(message)


class _TooLargeError(Exception):
    pass


_SAFE = ("GET", "HEAD", "OPTIONS")


class SameOrigin:
    """State-changing requests that carry the UI's cookie (and no bearer token) must come
    from the server's own pages: their ``Origin`` (or ``Referer``) host is the ``Host``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("method", "GET") not in _SAFE:
            cookie = _header(scope, b"cookie")
            bearer = _header(scope, b"authorization")
            if (COOKIE in cookie and not bearer) or scope.get("path", "").startswith("/ui/"):
                origin = _header(scope, b"origin") or _header(scope, b"referer")
                host = _header(scope, b"host")
                if not origin or urlsplit(origin).netloc.lower() != host.lower():
                    for message in _send_json(
                        403, "PermissionDeniedError", "cross-site request refused (CSRF)"
                    ):
                        await send(message)
                    return
        await self.app(scope, receive, send)


_JSON = re.compile(r"^application/([a-z0-9.+-]+\+)?json\b", re.IGNORECASE)
_FILES = re.compile(r"^/opsml/api/[a-z]+/cards/[^/]+/(artifacts/)?files/")  # raw bytes
# Each backslash escape of a JSON text, left to right (so ``\\\\`` is one escape); group 1
# is set for a UTF-16 surrogate escape: ``d8``-``db`` high, ``dc``-``df`` low.
_ESCAPE = re.compile(rb"\\(?:u([dD][89a-fA-F])[0-9a-fA-F]{2}|.)", re.DOTALL)


def _has_lone_surrogate(body: bytes) -> bool:
    """Whether a JSON text escapes half a surrogate pair (``"\\ud800"`` alone)."""
    pending = -1  # where an unpaired high surrogate escape ends
    for match in _ESCAPE.finditer(body):
        half = match.group(1)
        if half is not None and half[1:2].lower() in (b"c", b"d", b"e", b"f"):  # low
            if pending != match.start():
                return True
            pending = -1
            continue
        if pending >= 0:
            return True
        pending = match.end() if half is not None else -1
    return pending >= 0


class JsonText:
    """Refuse a JSON body that is not UTF-8 or that escapes half a surrogate pair: the text
    it decodes to can be stored by no database and sent back in no JSON answer (422)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method", "GET") in _SAFE:
            await self.app(scope, receive, send)  # no route reads the body of a safe method
            return
        kind = _header(scope, b"content-type")
        # FastAPI reads a body without a content type as JSON too (file uploads excepted).
        json_body = _JSON.match(kind) or (not kind and not _FILES.match(scope.get("path", "")))
        if not json_body:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
            problem = "holds text that is not valid Unicode (a lone \\ud800-\\udfff escape)"
            bad = _has_lone_surrogate(body)
        except UnicodeDecodeError:
            problem, bad = "is not UTF-8", True
        if bad:
            for reply in _send_json(422, "InvalidArgumentError", f"the JSON body {problem}"):
                await send(reply)
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


_WRITES = ("POST", "PUT", "PATCH", "DELETE")


class AuditLog:
    """Record every write and every denied request in the audit table."""

    def __init__(self, app: ASGIApp, store: Callable[[], Any]) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def capture(message: Any) -> None:
            nonlocal status
            if message.get("type") == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            method = scope.get("method", "GET")
            recorded = scope.get("state", {}).get("audit_recorded")  # a failed login, already
            if (method in _WRITES or status in (401, 403, 429)) and not recorded:
                await self._record(scope, method, status)

    async def _record(self, scope: MutableMapping[str, Any], method: str, status: int) -> None:
        state = scope.get("state", {})
        principal = state.get("principal")
        user = getattr(principal, "username", None) or state.get("audit_user") or "anonymous"
        outcome = "allowed" if status < 400 else "denied" if status in (401, 403, 429) else "error"
        client = scope.get("client") or ("", 0)
        route = scope.get("route")
        operation = f"{method} {getattr(route, 'path', scope.get('path', ''))}"
        entry = AuditEntry(
            created_at=datetime.now(UTC),
            username=_fit(str(user), 128),
            operation=_fit(operation, 64),
            resource=_fit(str(scope.get("path", "")), 512),
            outcome=outcome,
            status_code=status,
            client_address=_fit(str(client[0]), 64),
            detail=_fit(str(state.get("operation", "")), 1024),
        )
        try:
            await anyio.to_thread.run_sync(self.store().audit, entry)
        except Exception as exc:  # the response is sent; an audit failure must be visible
            _log.error("audit log write failed for %s %s: %s", method, entry.resource, exc)


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


def _fit(text: str, limit: int) -> str:
    """``text`` as the audit table can hold it whatever a request sent: control characters
    and lone surrogates escaped, at most ``limit`` characters (a bad request is recorded
    like any other, never lost to a database error)."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
