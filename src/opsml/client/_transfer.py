"""File transfers to and from the server: chunked, resumable, parallel, verified.

Uploads go in chunks of 16 MiB, each sent at an explicit offset, so a retry or a new process
continues where the server's copy ends. Downloads stream into ``.<name>.part`` files that a
later attempt resumes with an HTTP ``Range`` request; every file is hashed as it arrives and
moved into place only if its SHA-256 matches the manifest. Several files move in parallel.
A progress bar is shown on a terminal for transfers over 8 MiB.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from opsml.client._api import ApiClient
from opsml.errors import CardStateError, IntegrityError, ServerUnavailableError
from opsml.storage._manifest import FileEntry, hash_file, open_private, safe_relpath

__all__ = ["CHUNK_SIZE", "Transfer", "download_files", "upload_files"]

CHUNK_SIZE = 1024 * 1024 * 1024
"""Most bytes per upload request, streamed from the file in 1 MiB pieces. Requests are
large so the server can hash a file as it arrives; a request cut short loses nothing, since
the server keeps every byte it received and the next request resumes there."""
PIECE_SIZE = 1024 * 1024
PROGRESS_THRESHOLD = 8 * 1024 * 1024
PARALLEL_FILES = 4
_RESUMES = 20

Advance = Callable[[int], None]


@dataclass(frozen=True)
class Transfer:
    """One file to move: its manifest path, where (URL), and what it must hash to."""

    path: str
    url: str
    entry: FileEntry
    offset: int = 0
    complete: bool = False


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


def _run_parallel(jobs: Sequence[Callable[[], None]]) -> None:
    if len(jobs) <= 1:
        for job in jobs:
            job()
        return
    with ThreadPoolExecutor(max_workers=min(PARALLEL_FILES, len(jobs))) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()


def upload_files(
    api: ApiClient, transfers: Sequence[Transfer], root: Path, status_url: str
) -> None:
    """Send every incomplete file under ``root`` to its URL, resuming at the server's offset.

    Args:
        api: The server session.
        transfers: The files, with the offset the server already holds.
        root: The local folder the manifest paths are relative to.
        status_url: Where to ask how much of each file arrived (after an offset conflict).
    """
    pending = [t for t in transfers if not t.complete]
    total = sum(t.entry.size - t.offset for t in pending)
    with _progress("upload", total) as advance:
        _run_parallel(
            [functools.partial(_upload_one, api, t, root, status_url, advance) for t in pending]
        )


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
                )
            except (CardStateError, ServerUnavailableError) as exc:
                busy = "in progress" in str(exc)
                lost = isinstance(exc, ServerUnavailableError)
                if lost:
                    outages += 1
                    if outages > _RESUMES:
                        raise
                    time.sleep(min(0.25 * 2**outages, 8.0))
                elif not (busy or "offset mismatch" in str(exc)) or conflicts >= 10 * _RESUMES:
                    raise
                else:
                    conflicts += 1
                if busy:
                    # Another client is sending identical bytes; wait for it to finish.
                    time.sleep(min(0.05 * conflicts, 1.0))
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


def download_files(api: ApiClient, transfers: Sequence[Transfer], dest: Path) -> None:
    """Fetch every file into ``dest``, skipping files already there and verified.

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
    with _progress("download", total) as advance:
        _run_parallel([functools.partial(_download_one, api, t, dest, advance) for t in todo])


def _download_one(api: ApiClient, transfer: Transfer, dest: Path, advance: Advance) -> None:
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
                api.stream(transfer.url, headers=headers) as response,
                open_private(part, "ab") as out,
            ):
                if have and response.status_code != 206:
                    out.truncate(0)
                    advance(-have)
                    digest, have = hashlib.sha256(), 0
                for block in response.iter_bytes(1024 * 1024):
                    out.write(block)
                    digest.update(block)
                    have += len(block)
                    advance(len(block))
        except IntegrityError as exc:
            part.unlink(missing_ok=True)
            raise IntegrityError(
                f"file {transfer.path!r} on the server is shorter than its manifest "
                f"({have} of {transfer.entry.size} bytes)"
            ) from exc
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
            )
        )
    return result
