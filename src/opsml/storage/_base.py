"""The storage interface every artifact backend implements."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from opsml.errors import IntegrityError
from opsml.storage._manifest import Manifest
from opsml.storage._plans import StoredFile, UploadPlan
from opsml.storage._uploads import UploadArea
from opsml.storage._verified import VerifiedFiles

__all__ = ["ArtifactStorage", "owner_is_dead", "owner_token", "remove_stale_folders"]


def owner_token() -> str:
    """Identify this process as ``host:pid`` (used to tell stale work from live work)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_dead(token: str | None) -> bool:
    """Whether ``token`` names a process on this host that no longer exists.

    A process on another host is never considered dead (we cannot tell), so its leftovers
    are only removed by age.
    """
    if not token or ":" not in token:
        return False
    host, _, pid_text = token.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0:1] == ["Z"]


def remove_stale_folders(folders: Iterable[Path], prefix: str, older_than_seconds: float) -> int:
    """Remove staging folders named ``<prefix><host>~<pid>~<random>`` whose process is gone
    (on this host) or that are older than the threshold; how many were removed."""
    removed = 0
    now = time.time()
    for path in folders:
        host, _, rest = path.name.removeprefix(prefix).partition("~")
        pid = rest.partition("~")[0]
        try:
            age = now - path.stat().st_mtime
        except FileNotFoundError:
            continue
        if owner_is_dead(f"{host}:{pid}") or age >= older_than_seconds:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


class ArtifactStorage(ABC):
    """Where card artifacts live. Paths ("prefixes") are POSIX, relative to the storage root.

    Writing a card is two steps: the caller writes files into a local staging folder from
    :meth:`new_staging`, then :meth:`commit` makes them visible under the card's prefix all
    at once (or file by file, each file atomically, for object stores). Reading goes through
    :meth:`materialize`, which verifies every file against the card's manifest.
    """

    uri: str
    verified: VerifiedFiles | None = None
    """Fingerprints of files this storage verified (local storage: its files are read in
    place); ``None``: every file read is hashed."""

    @abstractmethod
    def new_staging(self) -> Path:
        """Return a new, empty local folder to write one card's files into."""

    @abstractmethod
    def commit(self, staging: Path, prefix: str) -> None:
        """Move the staged files under ``prefix``; the staging folder is consumed."""

    @abstractmethod
    def discard(self, staging: Path) -> None:
        """Throw away a staging folder."""

    @abstractmethod
    def materialize(self, prefix: str, manifest: Manifest, dest: Path | None = None) -> Path:
        """Return a local folder holding the card's verified files.

        Args:
            prefix: The card's storage prefix.
            manifest: The files to expect.
            dest: Copy into this folder; when ``None`` the backend may hand back a folder it
                owns (read-only use).

        Raises:
            IntegrityError: A file is missing or differs from the manifest.
        """

    @contextmanager
    def local_copy(self, prefix: str, manifest: Manifest, verify: bool = True) -> Iterator[Path]:
        """A local folder with the card's files for the ``with`` block.

        The default downloads into a temporary folder (verifying every file as it is
        copied, whatever ``verify`` says) that is removed afterwards; local storage
        overrides this to use the files in place, verified unless ``verify=False``.
        """
        with tempfile.TemporaryDirectory(prefix="opsml-") as tmp:
            yield self.materialize(prefix, manifest, Path(tmp))

    def diagnose(self, prefix: str, manifest: Manifest, exc: IntegrityError) -> None:
        """Called when the card's files failed verification with ``exc``: raise a more
        helpful error if the storage knows why (e.g. the files are encrypted at rest), or
        return to let ``exc`` stand."""
        del prefix, manifest, exc

    def note_written(self, prefix: str, manifest: Manifest) -> None:
        """After a registration by this process: remember which of the card's files are
        the very bytes hashed into ``manifest``, so reading them skips the re-hash (local
        storage; other backends verify every download)."""
        del prefix, manifest

    def upload_area(self) -> UploadArea | None:
        """Where files sent through an opsml server wait for their registration's commit,
        when this storage keeps them itself (local storage: inside its root, so a commit
        is a rename); ``None`` when clients send card files straight to the storage."""
        return None

    # -- transfers through an opsml server (client mode) -----------------------------------

    @abstractmethod
    def plan_uploads(
        self, prefix: str, manifest: Manifest, area: UploadArea | None, ttl: int
    ) -> dict[str, UploadPlan]:
        """Where each file of the pending card under ``prefix`` goes, and what of it arrived.

        Args:
            prefix: The pending card's storage prefix.
            manifest: Its files.
            area: The registration's own upload area (storage that takes uploads through
                the server: see :meth:`upload_area`).
            ttl: Seconds presigned URLs stay valid.
        """

    @abstractmethod
    def collect_uploads(
        self, prefix: str, manifest: Manifest, area: UploadArea | None, staging: Path
    ) -> None:
        """Make every uploaded file of the pending card part of its commit: files that
        went through the server are moved from ``area`` into ``staging``; files sent
        straight to the storage are assembled and checked where they are.

        Raises:
            UploadsMissingError: A file has not (completely) arrived.
        """

    def return_uploads(self, manifest: Manifest, area: UploadArea | None, staging: Path) -> None:
        """After a failed commit: give the files :meth:`collect_uploads` took back to the
        registration, so a retry needs no new upload (nothing to do by default)."""
        del manifest, area, staging

    @abstractmethod
    def download_url(self, prefix: str, rel: str, ttl: int) -> str | None:
        """A URL a client fetches one card file from directly (``None``: from the server,
        which reads it with :meth:`open_file`)."""

    @abstractmethod
    def open_file(self, prefix: str, rel: str) -> StoredFile:
        """One stored file of a card, to serve (byte ranges included).

        Raises:
            StorageError: The file is missing.
        """

    @abstractmethod
    def delete(self, prefix: str) -> None:
        """Remove everything under ``prefix`` (no error if absent)."""

    @abstractmethod
    def iter_card_prefixes(self, top: str) -> Iterator[str]:
        """Yield the prefixes of card folders (``<top>/<space>/<name>/v<version>``)."""

    @abstractmethod
    def clean_staging(self, older_than_seconds: float) -> int:
        """Remove staging folders of dead processes or older than the threshold; count them."""

    def probe(self) -> None:
        """Check that the storage answers (a server's readiness probe): cheap, changes
        nothing.

        Raises:
            StorageError: It cannot be reached or used.
        """
        next(iter(self.iter_card_prefixes("opsml_probe")), None)
