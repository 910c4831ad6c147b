"""File transfers to and from the server: chunked, resumable, parallel, verified.

Uploads go in chunks of 16 MiB, each sent at an explicit offset, so a retry or a new process
continues where the server's copy ends. Downloads stream into ``.<name>.part`` files that a
later attempt resumes with an HTTP ``Range`` request; every file is hashed as it arrives and
moved into place only if its SHA-256 matches the manifest. Several files move in parallel.
A progress bar is shown on a terminal for transfers over 8 MiB.

With object storage (S3, GCS, Azure) the server answers with presigned URLs instead, and the
bytes go straight between this process and the bucket: small files in one ``PUT``, large
ones in parts (eight at a time, each streamed from the file), downloads with ``Range``
resumes as above. These requests carry no opsml credentials; a URL that expired (``403``)
is replaced by asking the server for fresh ones.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from opsml._parallel import run_parallel
from opsml.client._api import ApiClient
from opsml.errors import (
    CardStateError,
    IntegrityError,
    PermissionDeniedError,
    ServerUnavailableError,
    StorageError,
    UploadOffsetError,
)
from opsml.storage import (
    FileEntry,
    HashedFiles,
    hash_file,
    open_private,
    safe_relpath,
)

__all__ = ["CHUNK_SIZE", "Transfer", "download_files", "upload_files"]

CHUNK_SIZE = 1024 * 1024 * 1024
"""Most bytes per upload request, streamed from the file in 1 MiB pieces. Requests are
large so the server can hash a file as it arrives; a request cut short loses nothing, since
the server keeps every byte it received and the next request resumes there."""
PIECE_SIZE = 1024 * 1024
PROGRESS_THRESHOLD = 8 * 1024 * 1024
PARALLEL_FILES = 4
PARALLEL_PARTS = 8
_RESUMES = 20

Advance = Callable[[int], None]


@dataclass(frozen=True)
class Part:
    """One part of a large file going straight to object storage."""

    number: int
    offset: int
    size: int
    url: str
    complete: bool = False


@dataclass(frozen=True)
class Transfer:
    """One file to move: its manifest path, where (URL), and what it must hash to.

    ``parts`` (object storage, large files) replace ``url``; ``headers`` must be sent with
    a presigned request.
    """

    path: str
    url: str
    entry: FileEntry
    offset: int = 0
    complete: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    parts: tuple[Part, ...] = ()

    @property
    def direct(self) -> bool:
        """Whether the bytes go to a presigned URL rather than to the opsml server."""
        return bool(self.parts) or _absolute(self.url)


def _absolute(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _direct_client() -> httpx.Client:
    """A plain HTTP client for presigned URLs (no opsml credentials, no base URL)."""
    return httpx.Client(
        timeout=httpx.Timeout(300.0, connect=10.0),
        limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
        headers={"user-agent": "opsml-client"},
    )


@contextmanager
def _progress(description: str, total: int) -> Iterator[Advance]:
    if total <= PROGRESS_THRESHOLD or not sys.stderr.isatty():
        yield lambda _n: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    lock = threading.Lock()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: int) -> None:
            with lock:
                bar.advance(task, n)

        yield advance


def _run_parallel(jobs: Sequence[Callable[[], None]], workers: int = PARALLEL_FILES) -> None:
    run_parallel(jobs, workers)


def upload_files(
    api: ApiClient,
    transfers: Sequence[Transfer],
    root: Path,
    status_url: str,
    targets_url: str | None = None,
) -> None:
    """Send every incomplete file under ``root`` to its URL, resuming at the server's offset.

    Args:
        api: The server session.
        transfers: The files, with the offset the server already holds.
        root: The local folder the manifest paths are relative to.
        status_url: Where to ask how much of each file arrived (after an offset conflict).
        targets_url: Where to ask for fresh upload targets (presigned URLs that expired).
    """
    pending = [t for t in transfers if not t.complete]
    total = sum(t.entry.size - t.offset for t in pending)
    with _progress("upload", total) as advance:
        direct = [t for t in pending if t.direct]
        if direct:
            with _direct_client() as http:
                refresh = _Refresher(api, targets_url)
                _run_parallel(
                    [
                        functools.partial(_put_direct, http, t, part, root, refresh, advance)
                        for t in direct
                        for part in (t.parts or (None,))
                        if part is None or not part.complete
                    ],
                    PARALLEL_PARTS,
                )
        _run_parallel(
            [
                functools.partial(_upload_one, api, t, root, status_url, advance)
                for t in pending
                if not t.direct
            ]
        )


class _Refresher:
    """Fresh presigned URLs from the server, for requests whose URL expired."""

    def __init__(self, api: ApiClient, targets_url: str | None) -> None:
        self._api = api
        self._url = targets_url

    def url(self, path: str, number: int | None) -> str:
        """The new URL of file ``path`` (or of its part ``number``).

        Raises:
            PermissionDeniedError: The server cannot hand out new URLs.
        """
        if self._url is None:
            raise PermissionDeniedError("object storage refused a presigned URL")
        for target in self._api.json("GET", self._url):
            if target["path"] != path:
                continue
            if number is None:
                return str(target["url"])
            for part in target.get("parts", []):
                if part["number"] == number:
                    return str(part["url"])
        raise CardStateError(f"the server no longer expects file {path!r}")


def _put_direct(
    http: httpx.Client,
    transfer: Transfer,
    part: Part | None,
    root: Path,
    refresh: _Refresher,
    advance: Advance,
) -> None:
    """``PUT`` a whole file, or one part of it, to its presigned URL (with retries)."""
    offset, length = (0, transfer.entry.size) if part is None else (part.offset, part.size)
    url = transfer.url if part is None else part.url
    headers = {**transfer.headers, "content-length": str(length)}
    refreshed = False
    failures = 0
    while True:
        try:
            with (root / safe_relpath(transfer.path)).open("rb") as fh:
                response = http.put(url, content=_pieces(fh, offset, length), headers=headers)
        except httpx.TransportError as exc:
            failures += 1
            if failures > _RESUMES:
                raise ServerUnavailableError(
                    f"cannot reach object storage for {transfer.path!r}: {exc}"
                ) from exc
            time.sleep(min(0.25 * 2**failures, 8.0))
            continue
        if response.is_success:
            advance(length)
            return
        if response.status_code in (401, 403) and not refreshed:
            refreshed = True
            url = refresh.url(transfer.path, None if part is None else part.number)
            continue
        if response.status_code >= 500 and failures < _RESUMES:
            failures += 1
            time.sleep(min(0.25 * 2**failures, 8.0))
            continue
        raise _storage_error(response, transfer.path)


def _storage_error(response: httpx.Response, path: str) -> Exception:
    detail = f"object storage answered {response.status_code} for {path!r}: {response.text[:300]}"
    if response.status_code in (401, 403):
        return PermissionDeniedError(detail)
    if response.status_code in (404, 416):  # missing, or shorter than its manifest says
        return IntegrityError(detail)
    return StorageError(detail)


@contextmanager
def _stream(
    api: ApiClient, http: httpx.Client | None, url: str, headers: dict[str, str]
) -> Iterator[httpx.Response]:
    """A streaming GET from the server, or (absolute URL) from a presigned URL; a ``416``
    (a resume asked past the end) is handed back, every other error raised as it came."""
    if http is None or not _absolute(url):
        with api.stream(url, headers=headers, allow=(416,)) as response:
            yield response
        return
    try:
        with http.stream("GET", url, headers=headers) as response:
            if response.status_code >= 400 and response.status_code != 416:
                response.read()
                raise _storage_error(response, url.split("?", 1)[0])
            yield response
    except httpx.TransportError as exc:
        raise ServerUnavailableError(f"lost the connection to object storage: {exc}") from exc


def _server_offset(api: ApiClient, status_url: str, path: str) -> tuple[int, bool]:
    for status in api.json("GET", status_url):
        if status["path"] == path:
            return int(status["received"]), bool(status["complete"])
    raise CardStateError(f"the server does not expect file {path!r}")


def _pieces(fh: BinaryIO, offset: int, length: int) -> Iterator[bytes]:
    """Stream ``length`` bytes of ``fh`` from ``offset`` in small pieces (flat memory)."""
    fh.seek(offset)
    left = length
    while left > 0:
        piece = fh.read(min(PIECE_SIZE, left))
        if not piece:
            raise IntegrityError("the file changed size while it was being uploaded")
        left -= len(piece)
        yield piece


def _upload_one(
    api: ApiClient, transfer: Transfer, root: Path, status_url: str, advance: Advance
) -> None:
    size = transfer.entry.size
    offset = transfer.offset
    conflicts = 0
    outages = 0
    with (root / safe_relpath(transfer.path)).open("rb") as fh:
        while True:
            length = min(CHUNK_SIZE, size - offset)
            try:
                status = api.json(
                    "PUT",
                    transfer.url,
                    params={"offset": offset},
                    content=_pieces(fh, offset, length),
                    headers={
                        "content-type": "application/octet-stream",
                        "content-length": str(length),
                    },
                    retry=False,
                    transfer=True,
                )
            except UploadOffsetError as exc:  # the server's copy stands elsewhere
                conflicts += 1
                if conflicts >= 10 * _RESUMES:
                    raise
                if exc.busy:
                    # Another request of this registration is sending the same bytes (two
                    # paths, one content); wait for it to finish.
                    time.sleep(min(0.05 * conflicts, 1.0))
                    received, complete = _server_offset(api, status_url, transfer.path)
                else:
                    received, complete = exc.offset, exc.offset >= size
                advance(received - offset)
                offset = received
                if complete:
                    return
                continue
            except ServerUnavailableError:  # resume where the server's copy ends
                outages += 1
                if outages > _RESUMES:
                    raise
                time.sleep(min(0.25 * 2**outages, 8.0))
                received, complete = _server_offset(api, status_url, transfer.path)
                advance(received - offset)
                offset = received
                if complete:
                    return
                continue
            received = int(status["received"])
            advance(received - offset)
            offset = received
            if status["complete"]:
                return


def download_files(
    api: ApiClient,
    transfers: Sequence[Transfer],
    dest: Path,
    hashed: HashedFiles | None = None,
) -> None:
    """Fetch every file into ``dest``, skipping files already there and verified.

    Args:
        api: The server's client.
        transfers: The files, where to get them and what they must hash to.
        dest: The folder to fetch into.
        hashed: Where to note each file downloaded (hashed as it arrived), e.g. for the
            client's cache to take it.

    Raises:
        IntegrityError: A file's bytes do not match its manifest entry.
        ServerUnavailableError: The server stayed unreachable through every resume attempt.
    """
    todo: list[Transfer] = []
    for transfer in transfers:
        target = dest / safe_relpath(transfer.path)
        if target.is_file() and hash_file(target) == transfer.entry:
            continue
        todo.append(transfer)
    total = sum(t.entry.size for t in todo)
    with _progress("download", total) as advance, _direct_client() as http:
        _run_parallel(
            [functools.partial(_download_one, api, t, dest, advance, http, hashed) for t in todo]
        )


def _download_one(
    api: ApiClient,
    transfer: Transfer,
    dest: Path,
    advance: Advance,
    http: httpx.Client | None = None,
    hashed: HashedFiles | None = None,
) -> None:
    target = dest / safe_relpath(transfer.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.part")
    digest = hashlib.sha256()
    have = 0
    if part.exists():
        with part.open("rb") as fh:
            while block := fh.read(4 * PIECE_SIZE):
                digest.update(block)
                have += len(block)
        if have > transfer.entry.size:
            part.unlink()
            digest, have = hashlib.sha256(), 0
        advance(have)
    failures = 0
    for _ in range(4 * _RESUMES):
        headers = {"range": f"bytes={have}-"} if have else {}
        before = have
        try:
            with (
                _stream(api, http, transfer.url, headers) as response,
                open_private(part, "ab") as out,
            ):
                if response.status_code == 416:  # the stored file ends before our part does
                    part.unlink(missing_ok=True)
                    raise IntegrityError(
                        f"file {transfer.path!r} on the server is shorter than its manifest "
                        f"({have} of {transfer.entry.size} bytes)"
                    )
                if have and response.status_code != 206:
                    out.truncate(0)
                    advance(-have)
                    digest, have = hashlib.sha256(), 0
                for block in response.iter_bytes(1024 * 1024):
                    out.write(block)
                    digest.update(block)
                    have += len(block)
                    advance(len(block))
        except ServerUnavailableError:
            failures += 1
            if failures > _RESUMES:
                raise
            time.sleep(min(0.25 * 2**failures, 8.0))
            continue
        if have >= transfer.entry.size:
            break
        if have == before:
            break  # the server has no more bytes: the check below reports the short file
    else:
        raise ServerUnavailableError(f"download of {transfer.path!r} kept stopping short")
    if have != transfer.entry.size or digest.hexdigest() != transfer.entry.sha256:
        part.unlink(missing_ok=True)
        raise IntegrityError(
            f"downloaded file {transfer.path!r} does not match its manifest "
            f"({have} bytes received, {transfer.entry.size} expected)"
        )
    os.replace(part, target)
    if hashed is not None:
        hashed.note(target, transfer.entry.sha256)


def transfers_from(
    targets: Sequence[dict[str, Any]], manifest_files: dict[str, FileEntry]
) -> list[Transfer]:
    """Pair the server's transfer targets with the card's own manifest entries.

    Raises:
        IntegrityError: The server names a file or hash the card's manifest does not have.
    """
    result: list[Transfer] = []
    for target in targets:
        path = str(target["path"])
        entry = manifest_files.get(path)
        if entry is None or entry.sha256 != target["sha256"] or entry.size != target["size"]:
            raise IntegrityError(f"the server's file list does not match the manifest at {path!r}")
        result.append(
            Transfer(
                path=path,
                url=str(target["url"]),
                entry=entry,
                offset=int(target.get("offset", 0)),
                complete=bool(target.get("complete", False)),
                headers={str(k): str(v) for k, v in target.get("headers", {}).items()},
                parts=tuple(
                    Part(
                        number=int(p["number"]),
                        offset=int(p["offset"]),
                        size=int(p["size"]),
                        url=str(p["url"]),
                        complete=bool(p.get("complete", False)),
                    )
                    for p in target.get("parts", [])
                ),
            )
        )
    return result
