"""The transfer routes: a registration through the server (reserve, send the files,
commit, or withdraw) and the download of a card's files.

Each route is a step of the registration protocol of the local backend
(:mod:`opsml.registry._registration`: ``begin``, ``finish``, ``abort``); where the bytes go
and how a stored file is read are the storage's answers (``plan_uploads``,
``collect_uploads``, ``download_url``, ``open_file``), so no route knows what kind of storage
the server runs on. A pending registration belongs to the user who began it: only they may
send its files, see what arrived or finish it.

Files are addressed only as (card uid, path in that card's manifest): a client never names a
storage location, so no request can reach a file outside a card.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Callable, Iterator
from typing import Annotated, Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from opsml.cards import CARD_FILE, parse_card
from opsml.errors import (
    CardNotFoundError,
    CardStateError,
    InvalidArgumentError,
    PermissionDeniedError,
)
from opsml.registry import Reservation
from opsml.server._authz import Scope, access
from opsml.server._direct import direct_get
from opsml.server._models import (
    ByteCount,
    DeletedResponse,
    ErrorResponse,
    PartTarget,
    RegistryName,
    ReserveRequest,
    ReserveResponse,
    TransferTarget,
    UploadStatus,
)
from opsml.server._security import Permission, Principal
from opsml.server._state import (
    ERRORS,
    ServerState,
    StateDep,
    Uid,
    UserDep,
    json_bytes,
    registered_row,
    registry_type,
    state,
)
from opsml.storage import FileEntry, Manifest, UploadArea, safe_relpath
from opsml.types import RegistryType

__all__ = ["own_pending", "receive_upload", "transfers"]

transfers = APIRouter(prefix="/opsml/api", responses=ERRORS)
FilePath = Annotated[str, Path(description="a path listed in the card's manifest")]
Reader = Callable[[int, int], Iterator[bytes]]


class _ArtifactResponse(FileResponse):
    """A file response that reads in 1 MiB chunks (Starlette's 64 KiB makes big artifacts
    pay one thread hop per 64 KiB)."""

    chunk_size = 1024 * 1024


# -- a registration through the server ---------------------------------------------------


def _owner(user: Principal) -> str:
    """The owner recorded on a reservation made through the server: the user."""
    return f"user:{user.username}"


def own_pending(
    st: ServerState, registry: RegistryType, uid: str, user: Principal, admin_ok: bool = False
) -> Reservation:
    """The pending registration ``uid``, which only the user who began it may continue.

    Raises:
        CardNotFoundError: No such reservation.
        CardStateError: The card is registered already (its files are immutable).
        PermissionDeniedError: Another user began it (``admin_ok``: unless the caller is
            an admin).
    """
    reservation = st.backend.pending(registry, uid)
    if reservation.owner != _owner(user) and not (admin_ok and user.is_admin):
        raise PermissionDeniedError(f"the registration of card {uid} belongs to another user")
    return reservation


def _uploads(st: ServerState, reservation: Reservation) -> UploadArea | None:
    """The registration's own upload area (storage that takes files through the server)."""
    area = st.backend.storage.upload_area()
    return None if area is None else area.for_card(reservation.registry.value, reservation.uid)


def _targets(st: ServerState, reservation: Reservation) -> list[TransferTarget]:
    """Where each file goes (the server, or a presigned URL) and what of it arrived."""
    manifest = reservation.registered.manifest
    plans = st.backend.storage.plan_uploads(
        reservation.prefix, manifest, _uploads(st, reservation), st.config.presign_ttl_seconds
    )
    base = f"/opsml/api/{reservation.registry.value}/cards/{reservation.uid}/files"
    targets = []
    for rel, entry in manifest.files.items():
        plan = plans[rel]
        targets.append(
            TransferTarget(
                path=rel,
                url=plan.url if plan.direct else f"{base}/{quote(rel)}",
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


def _reservation(st: ServerState, reservation: Reservation) -> ReserveResponse:
    registered = reservation.registered
    return ReserveResponse(
        uid=registered.uid,
        version=registered.version,
        created_at=registered.created_at,
        app_env=registered.app_env,
        uploads=_targets(st, reservation),
    )


@transfers.post(
    "/{registry}/cards/reserve",
    response_model=ReserveResponse,
    tags=["transfer"],
    dependencies=[access(Permission.Write, Scope.NewCard)],
)
def reserve(
    st: StateDep, user: UserDep, registry: RegistryName, body: ReserveRequest
) -> ReserveResponse:
    """Begin a registration: validate the card, allocate its version and reserve it
    (``pending``) for the caller; answers where to send each file, and what of each this
    reservation already received.

    Idempotent for one uid and user: a retry returns the same reservation. Cards the new
    card references must exist in spaces the caller may read.
    """
    reg = registry_type(registry)
    for rel in body.manifest.files:
        safe_relpath(rel)
        if rel == CARD_FILE:
            raise InvalidArgumentError(f"{CARD_FILE} is written by the registry")
    try:
        return _reservation(st, own_pending(st, reg, body.uid, user))
    except CardNotFoundError:
        pass
    reservation = st.backend.begin(
        parse_card(reg, body.card),
        body.version_type,
        body.pre_tag,
        body.build_tag,
        body.manifest,
        uid=body.uid,
        owner=_owner(user),
        readable=functools.partial(user.allows, Permission.Read),
    )
    return _reservation(st, reservation)


def _pending_upload(
    st: ServerState, registry: RegistryType, uid: str, path: str, user: Principal
) -> tuple[FileEntry, UploadArea]:
    reservation = own_pending(st, registry, uid, user)
    entry = reservation.registered.manifest.files.get(path)
    if entry is None:
        raise CardNotFoundError(f"card {uid} has no file {path!r} in its manifest")
    area = _uploads(st, reservation)
    if area is None:
        raise InvalidArgumentError(
            "this server keeps card files in object storage: send them to the presigned URLs "
            "of the reservation (GET …/upload-targets)"
        )
    return entry, area


@transfers.put(
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

    The last chunk triggers verification against the manifest's SHA-256. An offset that is
    not where the upload stands answers ``409`` ``UploadOffsetError`` with the right one.
    """
    reg = registry_type(registry)
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


@transfers.get(
    "/{registry}/cards/{uid}/uploads",
    response_model=list[UploadStatus],
    tags=["transfer"],
    dependencies=[access(Permission.Write, Scope.Card)],
)
def upload_status(
    st: StateDep, user: UserDep, registry: RegistryName, uid: Uid
) -> list[UploadStatus]:
    """How much of each file of the caller's pending card has arrived."""
    reservation = own_pending(st, registry_type(registry), uid, user)
    return [
        UploadStatus(path=t.path, received=t.offset, complete=t.complete)
        for t in _targets(st, reservation)
    ]


@transfers.get(
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
    return _targets(st, own_pending(st, registry_type(registry), uid, user))


@transfers.post(
    "/{registry}/cards/{uid}/commit",
    tags=["transfer"],
    dependencies=[access(Permission.Write, Scope.Card)],
)
def commit(st: StateDep, user: UserDep, registry: RegistryName, uid: Uid) -> dict[str, Any]:
    """Finish the caller's registration once every file arrived; returns the card's JSON
    (again, for a retry after it finished).

    The files this reservation received become the card's (moved, never linked), and its
    upload area is gone afterwards. A file that did not arrive answers ``409``
    ``UploadsMissingError`` naming it.
    """
    reg = registry_type(registry)
    try:
        reservation = own_pending(st, reg, uid, user)
    except CardStateError:  # finished already: a retry of a commit that went through
        row = st.backend.store.get(reg, uid)
        user.require(Permission.Read, row.space)
        done: dict[str, Any] = json.loads(row.card_json)
        return done
    storage = st.backend.storage
    manifest = reservation.registered.manifest
    area = _uploads(st, reservation)
    with st.backend.staging() as staging:
        storage.collect_uploads(reservation.prefix, manifest, area, staging)
        try:
            st.backend.finish(reservation, staging)
        except BaseException:
            storage.return_uploads(manifest, area, staging)
            raise
    if area is not None:
        area.discard()
    data: dict[str, Any] = json.loads(reservation.card_json)
    return data


@transfers.delete(
    "/{registry}/cards/{uid}/reservation",
    response_model=DeletedResponse,
    tags=["transfer"],
    dependencies=[access(Permission.Write, Scope.Card)],
)
def abort(st: StateDep, user: UserDep, registry: RegistryName, uid: Uid) -> DeletedResponse:
    """Withdraw a pending registration (the caller's own; an admin may end anyone's): its
    record, uploads and files are removed. Nothing to do when it is already gone."""
    try:
        reservation = own_pending(st, registry_type(registry), uid, user, admin_ok=True)
    except CardNotFoundError:
        return DeletedResponse(uid=uid)
    st.backend.abort(reservation)
    return DeletedResponse(uid=uid)


# -- downloads ------------------------------------------------------------------------------


def _stored_manifest(
    st: ServerState, request: Request, registry: RegistryType, uid: str
) -> tuple[str, Manifest]:
    """A registered card's storage prefix and manifest (parsed once per card version and
    kept: a registered card's files never change, so many downloads of one card's files
    parse its manifest once). Call it in a worker thread."""
    row = registered_row(st, request, registry, uid)
    return str(row.storage_path), _parse_manifest(registry, uid, row.updated_at, row.manifest_json)


@functools.lru_cache(maxsize=256)
def _parse_manifest(registry: RegistryType, uid: str, updated: Any, text: str) -> Manifest:
    """The manifest of one card as of ``updated`` (an experiment's grows when files are
    added: its update time changes, so does the key)."""
    del registry, uid, updated
    return Manifest.model_validate_json(text)


@transfers.get(
    "/{registry}/cards/{uid}/downloads",
    response_model=list[TransferTarget],
    tags=["transfer"],
    dependencies=[access(Permission.Read, Scope.Card)],
)
async def downloads(request: Request, registry: RegistryName, uid: Uid) -> Response:
    """Where to fetch each file of a registered card (the server, or presigned URLs)."""
    st = state(request)

    def targets() -> list[dict[str, Any]]:
        prefix, manifest = _stored_manifest(st, request, registry_type(registry), uid)
        storage = st.backend.storage
        ttl = st.config.presign_ttl_seconds
        base = f"/opsml/api/{registry.value}/cards/{uid}/files"
        return [
            TransferTarget(
                path=rel,
                url=storage.download_url(prefix, rel, ttl) or f"{base}/{quote(rel)}",
                method="GET",
                size=entry.size,
                sha256=entry.sha256,
            ).model_dump()
            for rel, entry in manifest.files.items()
        ]

    # One worker thread for the record (unless the permission check read it) and the URLs
    # (presigning may read credentials).
    return json_bytes(await st.run(targets))


SMALL_FILE = 256 * 1024
"""Files up to this size are read whole in the request's one worker thread and sent as one
body; larger ones stream."""


@direct_get(
    transfers,
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
async def download_file(
    request: Request, registry: RegistryName, uid: Uid, path: FilePath
) -> Response:
    """One file of a registered card; one ``Range`` (``bytes=a-b``, ``bytes=a-``,
    ``bytes=-n``) for resuming, answered the same for every storage."""
    st = state(request)
    wanted = request.headers.get("range")

    def answer() -> Response:
        prefix, manifest = _stored_manifest(st, request, registry_type(registry), uid)
        entry = manifest.files.get(path)
        if entry is None:
            raise CardNotFoundError(f"card {uid} has no file {path!r} in its manifest")
        headers = {"x-opsml-sha256": entry.sha256, "accept-ranges": "bytes"}
        storage = st.backend.storage
        url = storage.download_url(prefix, path, st.config.presign_ttl_seconds)
        if url is not None:
            return RedirectResponse(url, status_code=307, headers=headers)
        stored = storage.open_file(prefix, path)
        if wanted is None and stored.size <= SMALL_FILE:
            return Response(
                b"".join(stored.read(0, stored.size)),
                media_type="application/octet-stream",
                headers=headers,
            )
        if wanted is None and stored.path is not None:
            return _ArtifactResponse(
                stored.path, media_type="application/octet-stream", headers=headers
            )
        return _ranged(stored.size, stored.read, wanted, headers)

    return await st.run(answer)


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


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
    match = _RANGE.fullmatch(f"bytes={spec.strip()}")
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
