"""The registry API under ``/opsml/api``: every route calls the same local backend that
local mode uses, so both modes share one set of semantics.

Files are addressed only as (card uid, path in that card's manifest): a client never names a
storage location, so no request can reach a file outside a card.
"""

from __future__ import annotations

import functools
import itertools
import json
import pathlib
import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from opsml._version import __version__
from opsml.cards import CARD_FILE, CardBase, card_class, parse_card
from opsml.cards._lifecycle import check_new_card
from opsml.errors import (
    CardNotFoundError,
    CardStateError,
    InvalidArgumentError,
    PermissionDeniedError,
    StorageError,
)
from opsml.registry import LocalBackend
from opsml.registry._registry import card_query
from opsml.server._authz import Scope, access, current_user
from opsml.server._config import ServerConfig
from opsml.server._models import (
    UID_PATTERN,
    ByteCount,
    DeletedResponse,
    ErrorResponse,
    HealthResponse,
    LoginRequest,
    PartTarget,
    RefreshRequest,
    RegistryName,
    ReserveRequest,
    ReserveResponse,
    TokenResponse,
    TransferTarget,
    UpdateRequest,
    UploadStatus,
)
from opsml.server._security import Permission, Principal, Security
from opsml.server._throttle import LoginThrottle
from opsml.storage import (
    FileEntry,
    LocalStorage,
    Manifest,
    ObjectStorage,
    UploadArea,
    safe_relpath,
)
from opsml.storage._encrypted import EncryptedLocalStorage
from opsml.store import OK, CardQuery, parse_max_date
from opsml.store._auth import AuthStore
from opsml.types import RegistryType

__all__ = [
    "ServerState",
    "api",
    "public",
    "receive_upload",
    "state",
]

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 422, 500, 503)
}

Uid = Annotated[str, Path(pattern=UID_PATTERN, description="the card's uid")]
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
SpaceQuery = Annotated[
    str | None, Query(pattern=_NAME, description="space (lowercased before matching)")
]
NameQuery = Annotated[str | None, Query(pattern=_NAME, description="name (lowercased)")]
UidQuery = Annotated[str | None, Query(pattern=UID_PATTERN)]
VersionQueryParam = Annotated[
    str | None, Query(max_length=256, description="a version query: 1.*, ^1.2, >=1.2,<2")
]
FilePath = Annotated[str, Path(description="a path listed in the card's manifest")]


class _ArtifactResponse(FileResponse):
    """A file response that reads in 1 MiB chunks (Starlette's 64 KiB makes big artifacts
    pay one thread hop per 64 KiB)."""

    chunk_size = 1024 * 1024


def _registry(name: RegistryName) -> RegistryType:
    return RegistryType(name.value)


def _query(
    uid: str | None, space: str | None, name: str | None, version: str | None, **extra: Any
) -> CardQuery:
    """Query parameters to a CardQuery (an empty parameter means "any")."""
    return card_query(uid or None, space or None, name or None, version or None, **extra)


class ServerState:
    """What every route needs: the settings, the local backend and the security state
    (one per app)."""

    def __init__(self, config: ServerConfig, backend: LocalBackend) -> None:
        self.config = config
        self.backend = backend
        self.auth_store = AuthStore(backend.store)
        self.security = Security(
            self.auth_store,
            config.token_secret,
            config.refresh_secret,
            config.token_ttl_seconds,
            config.refresh_ttl_seconds,
        )
        self._relay: UploadArea | None = None

    def upload_area(self) -> UploadArea:
        """Where files sent *through* the server are received: local storage's own upload
        area, or (object storage) a folder on this server's disk, ``OPSML_UPLOAD_DIR``.

        With object storage only experiment artifacts take this path (card files go
        straight to the bucket with presigned URLs).
        """
        area = self.backend.storage.upload_area()
        if area is not None:
            return area
        if self._relay is None:
            self._relay = UploadArea(self.config.upload_dir)
        return self._relay


def state(request: Request) -> ServerState:
    """The app's :class:`ServerState`."""
    st: ServerState = request.app.state.opsml
    return st


def _card_json(card: CardBase) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(card.model_dump_json())
    return data


public = APIRouter(prefix="/opsml/api", responses=_ERRORS)
api = APIRouter(prefix="/opsml/api", responses=_ERRORS, dependencies=[Depends(current_user)])
StateDep = Annotated[ServerState, Depends(state)]
UserDep = Annotated[Principal, Depends(current_user)]


def _readable(user: Principal) -> tuple[str, ...] | None:
    spaces = user.readable_spaces()
    return None if spaces is None else tuple(sorted(spaces))


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


@api.get(
    "/{registry}/cards",
    tags=["cards"],
    dependencies=[access(Permission.Read, Scope.Query)],
)
def list_cards(
    st: StateDep,
    user: UserDep,
    registry: RegistryName,
    uid: UidQuery = None,
    space: SpaceQuery = None,
    name: NameQuery = None,
    version: VersionQueryParam = None,
    max_date: date | None = None,
    tags: Annotated[list[Annotated[str, Query(max_length=255)]] | None, Query()] = None,
    sort_by_timestamp: bool = False,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 25,
) -> list[dict[str, Any]]:
    """Card records, highest version first (or newest first)."""
    query = _query(
        uid,
        space,
        name,
        version,
        max_date=parse_max_date(max_date),
        tags=tuple(tags or ()),
        sort_by_timestamp=sort_by_timestamp,
        limit=limit,
        spaces=_readable(user),
    )
    return [r.model_dump() for r in st.backend.list_cards(_registry(registry), query)]


@api.get(
    "/{registry}/card",
    tags=["cards"],
    dependencies=[access(Permission.Read, Scope.Query)],
)
def load_card(
    st: StateDep,
    user: UserDep,
    registry: RegistryName,
    uid: UidQuery = None,
    space: SpaceQuery = None,
    name: NameQuery = None,
    version: VersionQueryParam = None,
) -> dict[str, Any]:
    """The best matching card's JSON (highest final release when no version is given)."""
    if not (uid or space or name):
        raise InvalidArgumentError("give a uid, or a space and/or name")
    query = _query(
        uid,
        None if uid else space,
        None if uid else name,
        version if not uid else None,
        spaces=_readable(user),
    )
    return _card_json(st.backend.load_card(_registry(registry), query))


@api.get(
    "/{registry}/cards/{uid}",
    tags=["cards"],
    dependencies=[access(Permission.Read, Scope.Card)],
)
def get_card(st: StateDep, registry: RegistryName, uid: Uid) -> dict[str, Any]:
    """One card's JSON (its ``card.json``)."""
    return _card_json(st.backend.load_card(_registry(registry), CardQuery(uid=uid, limit=1)))


@api.put(
    "/{registry}/cards/{uid}",
    tags=["cards"],
    dependencies=[access(Permission.Write, Scope.UpdatedCard)],
)
def update_card(
    st: StateDep, user: UserDep, registry: RegistryName, uid: Uid, body: UpdateRequest
) -> dict[str, Any]:
    """Replace a card's metadata and tags (artifacts are immutable); cards it refers to
    must be in spaces the caller may read."""
    card = parse_card(_registry(registry), body.card)
    if card.uid != uid:
        raise InvalidArgumentError("the card's uid does not match the URL")
    st.backend.update_card(card, readable=functools.partial(user.allows, Permission.Read))
    return _card_json(card)


@api.delete(
    "/{registry}/cards/{uid}",
    response_model=DeletedResponse,
    tags=["cards"],
    dependencies=[access(Permission.Delete, Scope.Card)],
)
def delete_card(st: StateDep, registry: RegistryName, uid: Uid) -> DeletedResponse:
    """Delete a card's record and artifacts."""
    card = st.backend.load_card(_registry(registry), CardQuery(uid=uid, limit=1))
    st.backend.delete_card(card)
    return DeletedResponse(uid=uid)


def _object_upload_targets(
    st: ServerState, storage: ObjectStorage, prefix: str, manifest: Manifest
) -> list[TransferTarget]:
    """Presigned URLs straight to the bucket, each for exactly one object of this card."""
    targets = []
    for rel, entry in manifest.files.items():
        plan = storage.plan_upload(
            storage.key(prefix, rel), entry.size, st.config.presign_ttl_seconds
        )
        targets.append(
            TransferTarget(
                path=rel,
                url=plan.url,
                method="PUT",
                size=entry.size,
                sha256=entry.sha256,
                offset=plan.received,
                complete=plan.complete,
                headers=plan.headers,
                parts=[
                    PartTarget(
                        number=p.number,
                        offset=p.offset,
                        size=p.size,
                        url=p.url,
                        complete=p.complete,
                    )
                    for p in plan.parts
                ],
            )
        )
    return targets


def _owner(user: Principal) -> str:
    """The owner recorded on a reservation made through the server: the user."""
    return f"user:{user.username}"


def _pending_row(
    st: ServerState, registry: RegistryType, uid: str, user: Principal, admin_ok: bool = False
) -> Any:
    """The pending reservation ``uid``, which only the user who made it may continue.

    Raises:
        CardNotFoundError: No such reservation.
        CardStateError: The card is registered already (its files are immutable).
        PermissionDeniedError: Another user made the reservation (``admin_ok``: unless the
            caller is an admin).
    """
    row = st.backend.store.get(registry, uid, include_pending=True)
    if row.status == OK:
        raise CardStateError(f"card {uid} is already registered; its files are immutable")
    if row.owner != _owner(user) and not (admin_ok and user.is_admin):
        raise PermissionDeniedError(f"the registration of card {uid} belongs to another user")
    return row


def _card_uploads(st: ServerState, registry: RegistryType, uid: str) -> UploadArea:
    """The private upload area of one pending registration."""
    area = st.backend.storage.upload_area()
    if area is None:
        raise StorageError("this server's storage takes no uploads through the server")
    return area.for_card(registry.value, uid)


def _upload_targets(
    st: ServerState, registry: RegistryType, uid: str, manifest: Manifest, prefix: str = ""
) -> list[TransferTarget]:
    storage = st.backend.storage
    if isinstance(storage, ObjectStorage):
        return _object_upload_targets(st, storage, prefix, manifest)
    area = _card_uploads(st, registry, uid)
    return [
        TransferTarget(
            path=rel,
            url=f"/opsml/api/{registry.value}/cards/{uid}/files/{quote(rel)}",
            method="PUT",
            size=entry.size,
            sha256=entry.sha256,
            offset=area.received(entry),
            complete=area.is_complete(entry),
        )
        for rel, entry in manifest.files.items()
    ]


def _reservation(
    st: ServerState, registry: RegistryType, uid: str, user: Principal
) -> ReserveResponse:
    row = _pending_row(st, registry, uid, user)
    card = card_class(registry).model_validate_json(row.card_json)
    manifest = Manifest.model_validate_json(row.manifest_json)
    return ReserveResponse(
        uid=uid,
        version=str(card.version),
        created_at=card.created_at,
        app_env=card.app_env,
        uploads=_upload_targets(st, registry, uid, manifest, row.storage_path),
    )


@api.post(
    "/{registry}/cards/reserve",
    response_model=ReserveResponse,
    tags=["transfer"],
    dependencies=[access(Permission.Write, Scope.NewCard)],
)
def reserve(
    st: StateDep, user: UserDep, registry: RegistryName, body: ReserveRequest
) -> ReserveResponse:
    """Allocate a version and reserve the card (``pending``) for the caller; answers where
    to upload, and what of each file this reservation already received.

    Idempotent for one uid and user: a retry returns the same reservation. Cards the new
    card references must exist in spaces the caller may read.
    """
    reg = _registry(registry)
    for rel in body.manifest.files:
        safe_relpath(rel)
        if rel == CARD_FILE:
            raise InvalidArgumentError(f"{CARD_FILE} is written by the registry")
    try:
        return _reservation(st, reg, body.uid, user)
    except CardNotFoundError:
        pass
    card = parse_card(reg, body.card)
    check_new_card(card)
    st.backend.check_links(card, readable=functools.partial(user.allows, Permission.Read))
    st.backend.reserve(
        card,
        body.version_type,
        body.pre_tag,
        body.build_tag,
        body.manifest,
        uid=body.uid,
        owner=_owner(user),
    )
    return _reservation(st, reg, body.uid, user)


def _pending_upload(
    st: ServerState, registry: RegistryType, uid: str, path: str, user: Principal
) -> tuple[FileEntry, UploadArea]:
    row = _pending_row(st, registry, uid, user)
    entry = Manifest.model_validate_json(row.manifest_json).files.get(path)
    if entry is None:
        raise CardNotFoundError(f"card {uid} has no file {path!r} in its manifest")
    return entry, _card_uploads(st, registry, uid)


@api.put(
    "/{registry}/cards/{uid}/files/{path:path}",
    response_model=UploadStatus,
    tags=["transfer"],
    dependencies=[access(Permission.Write, Scope.Card)],
)
async def upload_file(
    st: StateDep,
    user: UserDep,
    registry: RegistryName,
    uid: Uid,
    path: FilePath,
    request: Request,
    offset: ByteCount = 0,
) -> UploadStatus:
    """Append bytes to one file of the caller's pending card at ``offset`` (resumable).

    The last chunk triggers verification against the manifest's SHA-256.
    """
    reg = _registry(registry)
    if isinstance(st.backend.storage, ObjectStorage):
        raise InvalidArgumentError(
            "this server keeps card files in object storage: send them to the presigned URLs "
            "of the reservation (GET …/upload-targets)"
        )
    entry, area = await anyio.to_thread.run_sync(_pending_upload, st, reg, uid, path, user)
    return await receive_upload(area, entry, path, offset, request)


async def receive_upload(
    area: UploadArea, entry: FileEntry, path: str, offset: int, request: Request
) -> UploadStatus:
    """Append the request body to the upload of ``entry`` in ``area`` at ``offset``; the
    last byte triggers verification against its SHA-256."""
    with area.appending(entry, offset) as appender:
        async for chunk in request.stream():
            appender.write(chunk)
        if appender.received == entry.size:
            await anyio.to_thread.run_sync(area.seal, entry, appender.sha256)
    return UploadStatus(
        path=path, received=appender.received, complete=appender.received == entry.size
    )


@api.get(
    "/{registry}/cards/{uid}/uploads",
    response_model=list[UploadStatus],
    tags=["transfer"],
    dependencies=[access(Permission.Write, Scope.Card)],
)
def upload_status(
    st: StateDep, user: UserDep, registry: RegistryName, uid: Uid
) -> list[UploadStatus]:
    """How much of each file of the caller's pending card has arrived."""
    reg = _registry(registry)
    row = _pending_row(st, reg, uid, user)
    manifest = Manifest.model_validate_json(row.manifest_json)
    return [
        UploadStatus(path=t.path, received=t.offset, complete=t.complete)
        for t in _upload_targets(st, reg, uid, manifest, row.storage_path)
    ]


@api.get(
    "/{registry}/cards/{uid}/upload-targets",
    response_model=list[TransferTarget],
    tags=["transfer"],
    dependencies=[access(Permission.Write, Scope.Card)],
)
def upload_targets(
    st: StateDep, user: UserDep, registry: RegistryName, uid: Uid
) -> list[TransferTarget]:
    """Where to send each file of the caller's pending card, with what already arrived
    (fresh presigned URLs for object storage: clients ask again when theirs expire)."""
    reg = _registry(registry)
    row = _pending_row(st, reg, uid, user)
    manifest = Manifest.model_validate_json(row.manifest_json)
    return _upload_targets(st, reg, uid, manifest, row.storage_path)


def _commit_object_uploads(
    st: ServerState, storage: ObjectStorage, registry: RegistryType, uid: str, row: Any
) -> None:
    """Assemble and check every file the client sent to the bucket (all parts there, the
    object's size; the SHA-256 is checked on every download), then write ``card.json`` and
    mark the card ``ok``."""
    manifest = Manifest.model_validate_json(row.manifest_json)
    missing = [
        rel
        for rel, e in manifest.files.items()
        if not storage.finish_upload(storage.key(row.storage_path, rel), e.size)
    ]
    if missing:
        raise CardStateError(f"files not uploaded yet: {', '.join(missing[:10])}")
    staging = storage.new_staging()
    try:
        st.backend.commit(registry, uid, staging)
    except BaseException:
        storage.discard(staging)
        raise


def _commit_uploads(
    st: ServerState, area: UploadArea, registry: RegistryType, uid: str, row: Any
) -> None:
    """Move the files this reservation received into a staging folder and commit it; the
    reservation's upload area is gone afterwards (nothing of it outlives the card's
    commit). On failure the files go back, so a retried commit needs no new upload."""
    manifest = Manifest.model_validate_json(row.manifest_json)
    missing = area.missing(manifest.files)
    if missing:
        raise CardStateError(f"files not uploaded yet: {', '.join(missing[:10])}")
    storage = st.backend.storage
    staging = storage.new_staging()
    try:
        area.move_into(manifest.files, staging)
        st.backend.commit(registry, uid, staging)
    except BaseException:
        area.take_back(manifest.files, staging)
        storage.discard(staging)
        raise
    area.discard()


@api.post(
    "/{registry}/cards/{uid}/commit",
    tags=["transfer"],
    dependencies=[access(Permission.Write, Scope.Card)],
)
def commit(st: StateDep, user: UserDep, registry: RegistryName, uid: Uid) -> dict[str, Any]:
    """Finish the caller's registration once every file arrived; returns the card's JSON
    (again, for a retry after it finished)."""
    reg = _registry(registry)
    row = st.backend.store.get(reg, uid, include_pending=True)
    if row.status == OK:
        user.require(Permission.Read, row.space)
        data: dict[str, Any] = json.loads(row.card_json)
        return data
    row = _pending_row(st, reg, uid, user)
    storage = st.backend.storage
    if isinstance(storage, ObjectStorage):
        _commit_object_uploads(st, storage, reg, uid, row)
    else:
        _commit_uploads(st, _card_uploads(st, reg, uid), reg, uid, row)
    data = json.loads(row.card_json)
    return data


@api.delete(
    "/{registry}/cards/{uid}/reservation",
    response_model=DeletedResponse,
    tags=["transfer"],
    dependencies=[access(Permission.Write, Scope.Card)],
)
def abort(st: StateDep, user: UserDep, registry: RegistryName, uid: Uid) -> DeletedResponse:
    """Give up a pending registration (the caller's own; an admin may end anyone's): its
    record, uploads and files are removed. Nothing to do when it is already gone."""
    reg = _registry(registry)
    try:
        _pending_row(st, reg, uid, user, admin_ok=True)
    except CardNotFoundError:
        return DeletedResponse(uid=uid)
    st.backend.abort(reg, uid)
    return DeletedResponse(uid=uid)


@api.get(
    "/{registry}/cards/{uid}/downloads",
    response_model=list[TransferTarget],
    tags=["transfer"],
    dependencies=[access(Permission.Read, Scope.Card)],
)
def downloads(st: StateDep, registry: RegistryName, uid: Uid) -> list[TransferTarget]:
    """Where to fetch each file of a registered card (presigned URLs for object storage)."""
    row = st.backend.store.get(_registry(registry), uid)
    manifest = Manifest.model_validate_json(row.manifest_json)
    storage = st.backend.storage
    ttl = st.config.presign_ttl_seconds
    return [
        TransferTarget(
            path=rel,
            url=storage.presign_download(row.storage_path, rel, ttl)
            if isinstance(storage, ObjectStorage)
            else f"/opsml/api/{registry.value}/cards/{uid}/files/{quote(rel)}",
            method="GET",
            size=entry.size,
            sha256=entry.sha256,
        )
        for rel, entry in manifest.files.items()
    ]


@api.get(
    "/{registry}/cards/{uid}/files/{path:path}",
    response_class=FileResponse,
    tags=["transfer"],
    dependencies=[access(Permission.Read, Scope.Card)],
    responses={
        200: {"content": {"application/octet-stream": {}}},
        206: {"content": {"application/octet-stream": {}}},
        416: {"model": ErrorResponse},
    },
)
def download_file(
    st: StateDep, registry: RegistryName, uid: Uid, path: FilePath, request: Request
) -> Response:
    """One file of a registered card; one ``Range`` (``bytes=a-b``, ``bytes=a-``,
    ``bytes=-n``) for resuming, answered the same for plain and encrypted storage."""
    row = st.backend.store.get(_registry(registry), uid)
    entry = Manifest.model_validate_json(row.manifest_json).files.get(path)
    if entry is None:
        raise CardNotFoundError(f"card {uid} has no file {path!r} in its manifest")
    headers = {"x-opsml-sha256": entry.sha256, "accept-ranges": "bytes"}
    storage = st.backend.storage
    if isinstance(storage, ObjectStorage):
        url = storage.presign_download(row.storage_path, path, st.config.presign_ttl_seconds)
        return RedirectResponse(url, status_code=307, headers=headers)
    if not isinstance(storage, LocalStorage):
        raise StorageError("this server's storage cannot serve files")
    wanted = request.headers.get("range")
    if isinstance(storage, EncryptedLocalStorage):
        size, read = _encrypted_reader(storage, row.storage_path, path)
    else:
        file = storage.file_path(row.storage_path, path)
        if not file.is_file():
            raise StorageError(f"file {path!r} of card {uid} is missing from storage")
        if wanted is None:
            return _ArtifactResponse(file, media_type="application/octet-stream", headers=headers)
        size, read = file.stat().st_size, functools.partial(_read_plain, file)
    return _ranged(size, read, wanted, headers)


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
Reader = Callable[[int, int], Iterator[bytes]]


class _UnsatisfiableRangeError(InvalidArgumentError):
    """A ``Range`` starts past the end of the file (answered ``416``)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the requested range starts past the end of the file ({size} bytes)")
        self.size = size


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The byte range ``[start, end)`` one ``Range`` header asks of a ``size``-byte file.

    Returns:
        ``None`` for a header to ignore (another unit, or several ranges: the whole file
        is sent, as HTTP allows).

    Raises:
        InvalidArgumentError: A malformed byte range (e.g. ``bytes=5-1``).
        _UnsatisfiableRangeError: The range starts past the end of the file.
    """
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    match = _RANGE.match(f"bytes={spec.strip()}")
    if match is None or match.group(1) == match.group(2) == "":
        raise InvalidArgumentError(f"malformed Range header {header[:64]!r}")
    first, last = match.group(1), match.group(2)
    if first == "":  # the last n bytes
        count = int(last)
        if count == 0:
            raise _UnsatisfiableRangeError(size)
        return max(size - count, 0), size
    start = int(first)
    if last != "" and int(last) < start:
        raise InvalidArgumentError(f"malformed Range header {header[:64]!r}: end before start")
    if start >= size:
        raise _UnsatisfiableRangeError(size)
    return start, size if last == "" else min(int(last) + 1, size)


def _read_plain(file: pathlib.Path, start: int, end: int) -> Iterator[bytes]:
    with file.open("rb") as fh:
        fh.seek(start)
        left = end - start
        while left > 0:
            block = fh.read(min(_ArtifactResponse.chunk_size, left))
            if not block:
                return
            left -= len(block)
            yield block


def _encrypted_reader(storage: EncryptedLocalStorage, prefix: str, path: str) -> tuple[int, Reader]:
    size, _ = storage.read_range(prefix, path, 0, 0)

    def read(start: int, end: int) -> Iterator[bytes]:
        return storage.read_range(prefix, path, start, end)[1]

    return size, read


def _ranged(size: int, read: Reader, wanted: str | None, headers: dict[str, str]) -> Response:
    """The whole file, or the one range ``wanted`` asks for (``206``)."""
    try:
        span = _parse_range(wanted, size) if wanted is not None else None
    except _UnsatisfiableRangeError as exc:
        return Response(
            json.dumps({"error": "InvalidArgumentError", "detail": str(exc)}),
            status_code=416,
            media_type="application/json",
            headers={"content-range": f"bytes */{exc.size}"},
        )
    start, end = span if span is not None else (0, size)
    headers = {**headers, "content-length": str(end - start)}
    if span is not None:
        headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
    chunks = read(start, end)
    # The first piece is read (and, encrypted, authenticated) before the answer starts, so
    # a key or storage problem is an error response rather than a cut-off body.
    first = next(chunks, b"")
    return StreamingResponse(
        itertools.chain((first,), chunks),
        status_code=206 if span is not None else 200,
        media_type="application/octet-stream",
        headers=headers,
    )
