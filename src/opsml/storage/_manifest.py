"""Per-card manifests: the size and SHA-256 of every artifact file, and their verification."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from pydantic import BaseModel, Field, PrivateAttr

from opsml._validation import INT64_MAX
from opsml.errors import IntegrityError, InvalidArgumentError
from opsml.storage._verified import Fingerprint, VerifiedFiles, fingerprint

__all__ = [
    "FileEntry",
    "HashedFiles",
    "Manifest",
    "copy_tree_verified",
    "copy_verified",
    "open_private",
    "hash_file",
    "rmtree_quiet",
    "safe_relpath",
    "verify_file",
    "verify_tree",
]

_CHUNK = 4 * 1024 * 1024


class FileEntry(BaseModel):
    """Size in bytes and hex SHA-256 of one artifact file."""

    size: int = Field(ge=0, le=INT64_MAX)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


Stamp = tuple[int, int, int, int, int]
"""Device, inode, size, modification and change time (ns): a fingerprint without the path,
which a rename keeps."""


class HashedFiles:
    """Files this process hashed itself, each with the stamp it had while it was hashed.

    A file whose stamp is unchanged holds the bytes that were hashed, whatever its path
    now: this is the evidence that lets a registration's files, hashed in a private
    staging folder and renamed into place, count as verified (:meth:`unchanged`), and
    a download join the client's cache. One per manifest (:attr:`Manifest.hashed`) or
    per download; never shared process-wide.
    """

    def __init__(self) -> None:
        self._sha256: dict[Stamp, str] = {}  # one item set or read at a time: thread-safe

    def hash(self, path: Path) -> FileEntry:
        """:func:`hash_file`, noting the file's stamp when it did not change while hashed."""
        before = os.stat(path, follow_symlinks=False)
        entry = hash_file(path)
        after = os.stat(path, follow_symlinks=False)
        if fingerprint(path, after) == fingerprint(path, before) and after.st_size == entry.size:
            self._note(path, after, entry.sha256)
        return entry

    def note(self, path: Path, sha256: str) -> None:
        """Note that ``path``, as it is now, was just hashed to ``sha256`` (e.g. while
        downloading it)."""
        with contextlib.suppress(OSError):
            self._note(path, os.stat(path, follow_symlinks=False), sha256)

    def _note(self, path: Path, st: os.stat_result, sha256: str) -> None:
        key = fingerprint(path, st)
        if key is not None:
            self._sha256[key[1:]] = sha256

    def unchanged(self, path: Path, sha256: str) -> Fingerprint | None:
        """The fingerprint of ``path`` if it is a file hashed here to ``sha256`` and has not
        changed since (same inode, size, modification and change time); else ``None``."""
        try:
            key = fingerprint(path, os.stat(path, follow_symlinks=False))
        except OSError:
            return None
        if key is None:
            return None
        return key if self._sha256.get(key[1:]) == sha256 else None


class Manifest(BaseModel):
    """The files of one card version, keyed by POSIX path relative to the card's folder.

    A manifest made by :meth:`from_dir` also knows how each file looked while it was
    hashed (:attr:`hashed`; not part of the manifest's data, its JSON or its equality).
    """

    files: dict[str, FileEntry] = Field(default_factory=dict)
    _hashed: HashedFiles = PrivateAttr(default_factory=HashedFiles)

    @classmethod
    def from_dir(cls, root: Path, exclude: frozenset[str] = frozenset()) -> Manifest:
        """Hash every regular file under ``root``.

        Args:
            root: The card folder.
            exclude: Relative paths to leave out (``card.json`` describes the manifest itself).

        Returns:
            The manifest.

        Raises:
            IntegrityError: The folder contains a symlink (it could point outside the card).
        """
        hashed = HashedFiles()
        files: dict[str, FileEntry] = {}
        for dirpath, dirnames, filenames in os.walk(root):
            base = Path(dirpath)
            for entry in (*dirnames, *filenames):
                if (base / entry).is_symlink():
                    raise IntegrityError(f"refusing symlink inside card artifacts: {base / entry}")
            for filename in filenames:
                full = base / filename
                rel = full.relative_to(root).as_posix()
                if rel in exclude:
                    continue
                files[rel] = hashed.hash(full)
        manifest = cls(files=dict(sorted(files.items())))
        manifest._hashed = hashed
        return manifest

    @property
    def hashed(self) -> HashedFiles:
        """The files :meth:`from_dir` hashed, as they were while hashed (empty for a
        manifest read from JSON): a file still exactly so holds the bytes of its entry,
        wherever it was moved since by a rename."""
        return self._hashed

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Manifest):
            return NotImplemented
        return self.files == other.files

    __hash__ = BaseModel.__hash__  # None: not hashable, as any mutable model


def safe_relpath(rel: str) -> str:
    """Validate a manifest path: relative, POSIX, no ``..``, no empty parts, no NUL.

    Args:
        rel: The path to check.

    Returns:
        The path unchanged.

    Raises:
        InvalidArgumentError: The path could escape the card folder.
    """
    parts = PurePosixPath(rel).parts
    if (
        not rel
        or "\x00" in rel
        or "\\" in rel
        or rel.startswith("/")
        or any(part in ("", ".", "..") for part in parts)
        or rel != PurePosixPath(rel).as_posix()
    ):
        raise InvalidArgumentError(
            f"invalid artifact path {rel!r}: must be a relative path inside the card"
        )
    return rel


def hash_file(path: Path) -> FileEntry:
    """Return the size and SHA-256 of ``path``, reading it in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return FileEntry(size=size, sha256=digest.hexdigest())


def verify_file(
    path: Path, expected: FileEntry, rel: str, verified: VerifiedFiles | None = None
) -> None:
    """Raise :class:`IntegrityError` unless ``path`` matches ``expected``.

    The SHA-256 is computed over the whole file, unless ``verified`` knows this file,
    unchanged since, as verified before (see :mod:`opsml.storage._verified`): any write to
    the file changes its fingerprint and brings the full check back. A file hashed here is
    remembered in ``verified``.

    Args:
        path: The file on disk.
        expected: Its manifest entry.
        rel: Its manifest path, for the error message.
        verified: The fingerprints to consult and add to (``None``: always hash).
    """
    key = None
    try:
        st = os.stat(path, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            raise IntegrityError(f"artifact {rel!r} is a symlink")
        if verified is not None:
            key = fingerprint(path, st)
            if (
                key is not None
                and st.st_size == expected.size
                and verified.known(key, expected.sha256)
            ):
                return
        actual = hash_file(path)
    except FileNotFoundError as exc:
        raise IntegrityError(f"artifact {rel!r} is missing from storage") from exc
    if actual.size != expected.size or actual.sha256 != expected.sha256:
        raise IntegrityError(
            f"artifact {rel!r} does not match its manifest "
            f"(expected {expected.size} bytes sha256={expected.sha256[:12]}…, "
            f"found {actual.size} bytes sha256={actual.sha256[:12]}…)"
        )
    if verified is not None and key is not None:
        verified.remember([(key, expected.sha256)])


def verify_tree(root: Path, manifest: Manifest, verified: VerifiedFiles | None = None) -> None:
    """Check every manifest file under ``root`` (see :func:`verify_file`).

    Raises:
        IntegrityError: A file is missing or differs from the manifest.
    """
    for rel, entry in manifest.files.items():
        verify_file(root / safe_relpath(rel), entry, rel, verified)


def open_private(path: Path, mode: str = "wb") -> BinaryIO:
    """Open ``path`` for writing (``"wb"``) or appending (``"ab"``), creating it readable by
    this user only (0600): temporary and partial files never expose their bytes to others."""
    if mode == "ab":
        return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab", 0)
    if mode == "wb":
        return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")
    raise ValueError(f"open_private writes binary files: mode 'wb' or 'ab', not {mode!r}")


def copy_verified(src: Path, dest: Path, expected: FileEntry, rel: str) -> None:
    """Copy ``src`` to ``dest`` while hashing; ``dest`` appears only if the bytes verify.

    Args:
        src: Source file.
        dest: Destination file (written to a temporary name, then moved into place).
        expected: The manifest entry the bytes must match.
        rel: Manifest path, for error messages.

    Raises:
        IntegrityError: The copied bytes differ from the manifest; nothing is left at ``dest``.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    size = 0
    try:
        with src.open("rb") as fin, open_private(tmp) as fout:
            while chunk := fin.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                fout.write(chunk)
        if size != expected.size or digest.hexdigest() != expected.sha256:
            raise IntegrityError(
                f"artifact {rel!r} does not match its manifest "
                f"(expected {expected.size} bytes, read {size} bytes with a different SHA-256)"
                if size != expected.size
                else f"artifact {rel!r} does not match its manifest (SHA-256 differs)"
            )
        os.replace(tmp, dest)
    except FileNotFoundError as exc:
        raise IntegrityError(f"artifact {rel!r} is missing from storage") from exc
    finally:
        if tmp.exists():
            tmp.unlink()


def copy_tree_verified(src_root: Path, dest_root: Path, manifest: Manifest) -> None:
    """Copy every manifest file from ``src_root`` into ``dest_root``, verifying each."""
    for rel, entry in manifest.files.items():
        safe_relpath(rel)
        copy_verified(src_root / rel, dest_root / rel, entry, rel)


def rmtree_quiet(path: Path) -> None:
    """Remove a folder tree if it exists."""
    shutil.rmtree(path, ignore_errors=True)
