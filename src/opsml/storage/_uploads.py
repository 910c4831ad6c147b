"""Resumable uploads into local storage, for files sent through the opsml server.

Each file of a pending card is uploaded in chunks to ``{root}/.uploads/{sha256}.part``
(keyed by the SHA-256 its manifest promises, so a client that restarts resumes where the
last attempt stopped, even under a new reservation). When the last byte arrives the whole
part is hashed; only a file that verifies becomes ``{sha256}``, ready to be hard-linked into
the card's staging folder at commit. Sealed files stay until ``opsml gc`` removes them by age
(hard links cost no extra space while the card exists), so several registrations of identical
content share one upload. Any number of server replicas can share the folder: every step is
a file operation under an exclusive ``flock``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from opsml.errors import CardStateError, IntegrityError, InvalidArgumentError
from opsml.storage._manifest import FileEntry, hash_file, open_private

__all__ = ["Appender", "UploadArea"]

_HEX = frozenset("0123456789abcdef")


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
    """Content-addressed, resumable upload parts under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

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
        lock_path = self.root / f"{entry.sha256}.lock"
        with lock_path.open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise CardStateError(
                    "another upload of this file is in progress; retry shortly"
                ) from exc
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def appending(self, entry: FileEntry, offset: int) -> Iterator[Appender]:
        """Hold the file's lock and append at ``offset``, which must equal what arrived.

        Raises:
            CardStateError: ``offset`` is not where the upload stands (the message says
                where), the file is already complete, or another upload of it is running.
        """
        with self._locked(entry):
            current = self.received(entry)
            if offset != current or self.is_complete(entry):
                raise CardStateError(f"upload offset mismatch: expected offset {current}")
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

    def link_into(self, entry: FileEntry, dest: Path) -> None:
        """Place the verified file at ``dest`` (a hard link when possible, else a copy)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        blob = self._blob(entry.sha256)
        try:
            os.link(blob, dest)
        except OSError:
            shutil.copyfile(blob, dest)

    def clean(self, older_than_seconds: float) -> int:
        """Remove parts and sealed files untouched for ``older_than_seconds``."""
        if not self.root.is_dir():
            return 0
        removed = 0
        now = time.time()
        for path in self.root.iterdir():
            try:
                if now - path.stat().st_mtime >= older_than_seconds:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed
