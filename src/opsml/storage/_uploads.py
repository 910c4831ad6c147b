"""Resumable uploads into local storage, for files sent through the opsml server.

Every upload belongs to one *scope*: a pending card registration (``card``, registry, uid)
or one user's artifacts for one experiment. A scope is a private folder under
``{root}/.uploads/`` named by a hash of its identity; nothing outside the scope is ever
looked at, so bytes count only for the registration that sent them. Content addressing
inside a scope (``{sha256}.part`` while it arrives, ``{sha256}`` once verified) lets a
client that restarts resume where its last attempt stopped, but never lets one
registration see, reuse or overwrite another's bytes: there is no cross-scope dedup, no
status answer about bytes outside the caller's scope, and no hard link between an upload
and a card. At commit the verified files are *moved* into the card's staging folder and the
scope is removed, so nothing of a registration outlives it in the upload area (with
encryption at rest, no plaintext). Abandoned scopes are removed by ``opsml gc``. Any number
of server replicas can share the folder: every step is a file operation under an exclusive
``flock``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from opsml.errors import (
    IntegrityError,
    InvalidArgumentError,
    UploadOffsetError,
    UploadsMissingError,
)
from opsml.storage._manifest import FileEntry, hash_file, open_private, rmtree_quiet, safe_relpath

__all__ = ["Appender", "UploadArea"]

_HEX = frozenset("0123456789abcdef")
_SCOPE_PREFIX = "s-"


def _check_sha(sha256: str) -> str:
    if len(sha256) != 64 or not set(sha256) <= _HEX:
        raise InvalidArgumentError("invalid SHA-256")
    return sha256


class Appender:
    """Appends one request's bytes to a part, refusing more than the manifest promised."""

    def __init__(self, fh: BinaryIO, entry: FileEntry, offset: int) -> None:
        self._fh = fh
        self._entry = entry
        self._start = offset
        self.received = offset
        # A request that carries the whole file is hashed as it arrives (no re-read).
        self._digest = hashlib.sha256() if offset == 0 else None

    @property
    def sha256(self) -> str | None:
        """Hex SHA-256 of the bytes, when this request carried the whole file from byte 0."""
        return self._digest.hexdigest() if self._digest is not None else None

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``.

        Raises:
            InvalidArgumentError: The file would exceed its manifest size (the bytes of this
                request are dropped).
        """
        if self.received + len(chunk) > self._entry.size:
            self._fh.truncate(self._start)
            raise InvalidArgumentError(
                f"upload is larger than the manifest's {self._entry.size} bytes"
            )
        self._fh.write(chunk)
        if self._digest is not None:
            self._digest.update(chunk)
        self.received += len(chunk)


class UploadArea:
    """Resumable upload parts under ``root``: the whole area, or (from :meth:`scope`) the
    private folder of one registration, which every other method works in."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def scope(self, *identity: str) -> UploadArea:
        """The private area of one registration, e.g. ``scope("card", "data", uid)``.

        The folder's name is a hash of ``identity``, so no value can steer it elsewhere.
        """
        digest = hashlib.sha256("\x00".join(identity).encode()).hexdigest()[:40]
        return UploadArea(self.root / f"{_SCOPE_PREFIX}{digest}")

    def for_card(self, registry: str, uid: str) -> UploadArea:
        """The scope of one pending card registration (its reservation's uid)."""
        return self.scope("card", registry, uid)

    def for_artifacts(self, experiment_uid: str, username: str) -> UploadArea:
        """The scope of one user's artifact uploads to one registered experiment."""
        return self.scope("artifacts", experiment_uid, username)

    def _blob(self, sha256: str) -> Path:
        return self.root / _check_sha(sha256)

    def _part(self, sha256: str) -> Path:
        return self.root / f"{_check_sha(sha256)}.part"

    def received(self, entry: FileEntry) -> int:
        """Bytes of this file already stored (its full size once it verified)."""
        if self._blob(entry.sha256).exists():
            return entry.size
        try:
            return self._part(entry.sha256).stat().st_size
        except FileNotFoundError:
            return 0

    def is_complete(self, entry: FileEntry) -> bool:
        """Whether the file arrived and verified."""
        return self._blob(entry.sha256).exists()

    @contextmanager
    def _locked(self, entry: FileEntry) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = self.root / f"{_check_sha(entry.sha256)}.lock"
        with lock_path.open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise UploadOffsetError(
                    "another upload of this file is in progress; retry shortly",
                    offset=self.received(entry),
                    busy=True,
                ) from exc
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def appending(self, entry: FileEntry, offset: int) -> Iterator[Appender]:
        """Hold the file's lock and append at ``offset``, which must equal what arrived.

        Raises:
            UploadOffsetError: ``offset`` is not where the upload stands (its ``offset``
                says where), the file is already complete, or another upload of it is
                running (``busy``).
        """
        with self._locked(entry):
            current = self.received(entry)
            if offset != current or self.is_complete(entry):
                raise UploadOffsetError(
                    f"upload offset mismatch: expected offset {current}", offset=current
                )
            with open_private(self._part(entry.sha256), "ab") as fh:
                yield Appender(fh, entry, offset)

    def seal(self, entry: FileEntry, sha256: str | None = None) -> None:
        """Verify a fully received part and make it the sealed file.

        Args:
            entry: The manifest entry the part must match.
            sha256: The part's hash when it was computed on arrival (else it is re-read).

        Raises:
            IntegrityError: The bytes do not match the SHA-256 (the part is discarded).
        """
        part = self._part(entry.sha256)
        actual = (
            hash_file(part)
            if sha256 is None
            else FileEntry(size=part.stat().st_size, sha256=sha256)
        )
        if actual.sha256 != entry.sha256 or actual.size != entry.size:
            part.unlink(missing_ok=True)
            raise IntegrityError(
                "uploaded bytes do not match the manifest's SHA-256; the upload was discarded"
            )
        os.replace(part, self._blob(entry.sha256))

    def missing(self, files: Mapping[str, FileEntry]) -> list[str]:
        """The paths of ``files`` whose bytes have not arrived and verified in this scope."""
        return [rel for rel, entry in files.items() if not self.is_complete(entry)]

    def move_into(self, files: Mapping[str, FileEntry], staging: Path) -> None:
        """Move every verified file of ``files`` to ``staging/<path>`` (a rename: the
        upload area keeps no link to a card's bytes); paths sharing content get copies.

        Raises:
            UploadsMissingError: A file has not arrived (see :meth:`missing`).
        """
        missing = self.missing(files)
        if missing:
            raise UploadsMissingError(missing)
        placed: dict[str, Path] = {}
        for rel, entry in files.items():
            dest = staging / safe_relpath(rel)
            dest.parent.mkdir(parents=True, exist_ok=True)
            first = placed.get(entry.sha256)
            if first is not None:
                shutil.copyfile(first, dest)
                continue
            try:
                os.replace(self._blob(entry.sha256), dest)
            except FileNotFoundError as exc:
                raise UploadsMissingError([rel]) from exc
            placed[entry.sha256] = dest

    def take_back(self, files: Mapping[str, FileEntry], staging: Path) -> None:
        """Undo :meth:`move_into` after a failed commit, for every staged file that is
        still exactly its manifest entry (re-hashed: a commit may have changed it)."""
        for rel, entry in files.items():
            path = staging / safe_relpath(rel)
            blob = self._blob(entry.sha256)
            try:
                if not blob.exists() and hash_file(path) == entry:
                    os.replace(path, blob)
            except OSError:
                continue

    def discard(self) -> None:
        """Remove this area and everything in it (no error if absent)."""
        rmtree_quiet(self.root)

    def clean(self, older_than_seconds: float) -> int:
        """Remove scopes in which nothing was written for ``older_than_seconds``, and any
        loose file directly under the area (left by versions of opsml that shared uploads
        between registrations: nothing reads them any more). Returns how many went."""
        if not self.root.is_dir():
            return 0
        removed = 0
        now = time.time()
        for path in self.root.iterdir():
            try:
                if not path.is_dir():
                    path.unlink()
                    removed += 1
                elif now - _newest_mtime(path) >= older_than_seconds:
                    rmtree_quiet(path)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


def _newest_mtime(folder: Path) -> float:
    newest = folder.stat().st_mtime
    for child in folder.iterdir():
        try:
            newest = max(newest, child.stat().st_mtime)
        except FileNotFoundError:
            continue
    return newest
