"""Artifact storage in a local (or mounted) folder."""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from opsml.errors import IntegrityError, StorageError
from opsml.storage._base import ArtifactStorage, owner_token, remove_stale_folders
from opsml.storage._encryption import is_encrypted
from opsml.storage._manifest import (
    Manifest,
    copy_tree_verified,
    rmtree_quiet,
    safe_relpath,
    verify_tree,
)
from opsml.storage._plans import StoredFile, UploadPlan
from opsml.storage._uploads import UploadArea
from opsml.storage._verified import VerifiedFiles

__all__ = ["LocalStorage"]

_STAGING = ".staging"
_TRASH = ".trash"
_UPLOADS = ".uploads"


class LocalStorage(ArtifactStorage):
    """Card folders under one root directory.

    Staging folders live inside the root (``.staging/``), on the same filesystem, so a
    finished card is moved into place with one atomic directory rename: a reader sees
    either nothing or the whole card.

    Files are verified against their manifest on every read; ``verified`` remembers the
    ones whose hash is known (see :mod:`opsml.storage._verified`), so an unchanged file
    is not hashed twice.
    """

    verified: VerifiedFiles

    def __init__(
        self,
        root: Path | str,
        key_ids: Callable[[str], str | None] | None = None,
        verified: VerifiedFiles | None = None,
    ) -> None:
        """Open the folder ``root`` (created on the first write).

        Args:
            root: The storage folder.
            key_ids: For error messages only: the id of the master key that encrypted a
                card's files (when this folder holds an encrypted registry but is opened
                without ``OPSML_ENCRYPT_SECRET``).
            verified: Fingerprints of verified files, shared with other processes through
                its file (a new in-memory one when omitted).
        """
        self.root = Path(root).expanduser().resolve()
        self.uri = str(self.root)
        self._key_ids = key_ids
        self.verified = verified if verified is not None else VerifiedFiles(None)

    def _path(self, prefix: str) -> Path:
        return self.root / safe_relpath(prefix)

    def upload_area(self) -> UploadArea:
        """Where files uploaded through the server wait for their card's commit (inside
        the root, so the commit moves them with a rename)."""
        return UploadArea(self.root / _UPLOADS)

    def file_path(self, prefix: str, rel: str) -> Path:
        """The local path of one card file (for serving it)."""
        return self._path(prefix) / safe_relpath(rel)

    def new_staging(self) -> Path:
        """Create ``.staging/<host>:<pid>:<random>`` under the root."""
        token = owner_token().replace(":", "~")
        path = self.root / _STAGING / f"{token}~{secrets.token_hex(8)}"
        try:
            path.mkdir(parents=True, mode=0o700)
        except OSError as exc:
            raise StorageError(f"cannot create a staging folder under {self.root}: {exc}") from exc
        return path

    def commit(self, staging: Path, prefix: str) -> None:
        """Rename the staging folder to ``root/prefix`` (replacing a stale leftover)."""
        dest = self._path(prefix)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.exists():
                self._trash(dest)
            os.rename(staging, dest)
        except OSError as exc:
            raise StorageError(f"cannot move artifacts into {dest}: {exc}") from exc

    def note_written(self, prefix: str, manifest: Manifest) -> None:
        """Remember the card's files as verified when they are, unchanged, the files this
        process hashed into ``manifest`` (:attr:`Manifest.hashed`: the same inode with the
        same size, modification and change time as while hashed in the staging folder)."""
        root = self._path(prefix)
        entries = []
        for rel, entry in manifest.files.items():
            key = manifest.hashed.unchanged(root / safe_relpath(rel), entry.sha256)
            if key is not None:
                entries.append((key, entry.sha256))
        self.verified.remember(entries)

    def discard(self, staging: Path) -> None:
        """Remove a staging folder."""
        rmtree_quiet(staging)

    def materialize(self, prefix: str, manifest: Manifest, dest: Path | None = None) -> Path:
        """Verify the card's files in place, or copy them verified into ``dest``.

        Raises:
            IntegrityError: A file is missing or differs from the manifest; when the files
                are encrypted at rest (a registry with ``OPSML_ENCRYPT_SECRET`` read
                without it), the message says so and names the master key.
        """
        src = self._path(prefix)
        try:
            if dest is None:
                verify_tree(src, manifest, self.verified)
                return src
            dest.mkdir(parents=True, exist_ok=True)
            copy_tree_verified(src, dest, manifest)
        except IntegrityError as exc:
            self.diagnose(prefix, manifest, exc)
            raise
        return dest

    def diagnose(self, prefix: str, manifest: Manifest, exc: IntegrityError) -> None:
        """Raise a clearer error when the card's files are encrypted at rest and this
        storage was opened without the key (else return: ``exc`` stands)."""
        for rel in manifest.files:
            path = self._path(prefix) / safe_relpath(rel)
            if path.is_file() and is_encrypted(path):
                key_id = self._key_ids(prefix) if self._key_ids is not None else None
                key = f" with master key {key_id}" if key_id else ""
                raise IntegrityError(
                    f"the artifacts of {prefix} are encrypted at rest{key}: set "
                    "OPSML_ENCRYPT_SECRET to that key to read them"
                ) from exc

    @contextmanager
    def local_copy(self, prefix: str, manifest: Manifest, verify: bool = True) -> Iterator[Path]:
        """The card folder itself (no copy), verified in place unless ``verify=False``."""
        yield self.materialize(prefix, manifest) if verify else self._path(prefix)

    def delete(self, prefix: str) -> None:
        """Move the card folder to the trash, then remove it."""
        path = self._path(prefix)
        if path.exists():
            self._trash(path)
        self._prune_empty_parents(path.parent)

    def _trash(self, path: Path) -> None:
        trash = self.root / _TRASH / secrets.token_hex(8)
        trash.parent.mkdir(parents=True, exist_ok=True)
        os.rename(path, trash)
        rmtree_quiet(trash)

    def _prune_empty_parents(self, path: Path) -> None:
        while path != self.root and self.root in path.parents:
            try:
                path.rmdir()
            except OSError:
                return
            path = path.parent

    # -- transfers through an opsml server ---------------------------------------------------

    def plan_uploads(
        self, prefix: str, manifest: Manifest, area: UploadArea | None, ttl: int
    ) -> dict[str, UploadPlan]:
        """Every file goes through the server into the registration's ``area``; what of
        each already arrived there."""
        del prefix, ttl
        area = _required(area)
        return {
            rel: UploadPlan(
                direct=False, received=area.received(entry), complete=area.is_complete(entry)
            )
            for rel, entry in manifest.files.items()
        }

    def collect_uploads(
        self, prefix: str, manifest: Manifest, area: UploadArea | None, staging: Path
    ) -> None:
        """Move the verified uploads from ``area`` into ``staging`` (a rename: the upload
        area keeps no link to a card's bytes)."""
        del prefix
        _required(area).move_into(manifest.files, staging)

    def return_uploads(self, manifest: Manifest, area: UploadArea | None, staging: Path) -> None:
        """Move the files back into ``area`` (those still exactly their manifest entry)."""
        _required(area).take_back(manifest.files, staging)

    def download_url(self, prefix: str, rel: str, ttl: int) -> str | None:
        """``None``: the server serves local files itself."""
        del prefix, rel, ttl
        return None

    def open_file(self, prefix: str, rel: str) -> StoredFile:
        """The file itself (sent as it is, or read in ranges)."""
        path = self.file_path(prefix, rel)
        if not path.is_file():
            raise StorageError(f"file {rel!r} is missing from storage")
        return StoredFile(
            size=path.stat().st_size, read=functools.partial(_read_range, path), path=path
        )

    def probe(self) -> None:
        """The root folder (or, before the first card, the folder it will be made in)
        exists and this process may write into it.

        Raises:
            StorageError: It does not, or may not.
        """
        folder = self.root
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise StorageError(f"storage folder {self.root} is not a writable folder")

    def iter_card_prefixes(self, top: str) -> Iterator[str]:
        """Yield ``top/<space>/<name>/v<version>`` folders that exist."""
        base = self._path(top)
        if not base.is_dir():
            return
        for space in sorted(p for p in base.iterdir() if p.is_dir()):
            for name in sorted(p for p in space.iterdir() if p.is_dir()):
                for version in sorted(p for p in name.iterdir() if p.is_dir()):
                    if version.name.startswith("v"):
                        yield version.relative_to(self.root).as_posix()

    def clean_staging(self, older_than_seconds: float) -> int:
        """Remove staging folders whose process died, or older than the threshold."""
        staging_root = self.root / _STAGING
        if not staging_root.is_dir():
            return 0
        removed = remove_stale_folders(staging_root.iterdir(), "", older_than_seconds)
        rmtree_quiet(self.root / _TRASH)
        return removed + self.upload_area().clean(older_than_seconds)


_PIECE = 1024 * 1024


def _required(area: UploadArea | None) -> UploadArea:
    if area is None:
        raise StorageError("files sent through the server need the registration's upload area")
    return area


def _read_range(path: Path, start: int, end: int) -> Iterator[bytes]:
    """The bytes ``[start, end)`` of ``path`` in 1 MiB pieces."""
    with path.open("rb") as fh:
        fh.seek(start)
        left = end - start
        while left > 0:
            block = fh.read(min(_PIECE, left))
            if not block:
                return
            left -= len(block)
            yield block
