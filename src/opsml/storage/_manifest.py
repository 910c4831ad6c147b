"""Per-card manifests: the size and SHA-256 of every artifact file, and their verification."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import threading
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from pydantic import BaseModel, Field

from opsml._validation import INT64_MAX
from opsml.errors import IntegrityError, InvalidArgumentError
from opsml.storage._verified import fingerprint, verified_files

__all__ = [
    "FileEntry",
    "Manifest",
    "copy_tree_verified",
    "copy_verified",
    "open_private",
    "hash_file",
    "hashed_sha256",
    "note_hashed",
    "remember_written",
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


class Manifest(BaseModel):
    """The files of one card version, keyed by POSIX path relative to the card's folder."""

    files: dict[str, FileEntry] = Field(default_factory=dict)

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
                files[rel] = _hash_noting(full)
        return cls(files=dict(sorted(files.items())))


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


_HASHED: dict[tuple[int, int, int, int, int], str] = {}
"""Files hashed into a manifest by this process, by device, inode, size, mtime and ctime
(unchanged during the hash), until :func:`remember_written` finds them in place."""
_HASHED_LOCK = threading.Lock()
_HASHED_MAX = 10_000


def _hash_noting(path: Path) -> FileEntry:
    """:func:`hash_file`, noting the file's stamp when it did not change while hashed."""
    before = os.stat(path, follow_symlinks=False)
    entry = hash_file(path)
    after = os.stat(path, follow_symlinks=False)
    if fingerprint(path, after) == fingerprint(path, before) and after.st_size == entry.size:
        _note(path, after, entry.sha256)
    return entry


def _note(path: Path, st: os.stat_result, sha256: str) -> None:
    key = fingerprint(path, st)
    if key is not None:
        with _HASHED_LOCK:
            if len(_HASHED) >= _HASHED_MAX:
                _HASHED.clear()
            _HASHED[key[1:]] = sha256


def note_hashed(path: Path, sha256: str) -> None:
    """Note that this process just hashed ``path`` (as it is now) to ``sha256``."""
    with contextlib.suppress(OSError):
        _note(path, os.stat(path, follow_symlinks=False), sha256)


def hashed_sha256(path: Path) -> str | None:
    """The SHA-256 this process hashed ``path`` to, if the file has not changed since."""
    try:
        key = fingerprint(path, os.stat(path, follow_symlinks=False))
    except OSError:
        return None
    if key is None:
        return None
    with _HASHED_LOCK:
        return _HASHED.get(key[1:])


def remember_written(root: Path, manifest: Manifest) -> None:
    """Record the files of ``root`` this process hashed into ``manifest`` (in a staging
    folder since moved here) as verified, so loading them does not hash them again.

    A file counts only if it is the same inode with the same size, modification and change
    time as when it was hashed: unchanged since."""
    entries = []
    for rel, entry in manifest.files.items():
        path = root / safe_relpath(rel)
        try:
            key = fingerprint(path, os.stat(path, follow_symlinks=False))
        except OSError:
            continue
        if key is None:
            continue
        with _HASHED_LOCK:
            hashed = _HASHED.pop(key[1:], None)
        if hashed == entry.sha256:
            entries.append((key, entry.sha256))
    verified_files().remember(entries)


def verify_file(path: Path, expected: FileEntry, rel: str) -> None:
    """Raise :class:`IntegrityError` unless ``path`` matches ``expected``.

    The SHA-256 is computed over the whole file, unless this file, unchanged since, was
    verified before (see :mod:`opsml.storage._verified`): any write to the file changes its
    fingerprint and brings the full check back.

    Args:
        path: The file on disk.
        expected: Its manifest entry.
        rel: Its manifest path, for the error message.
    """
    try:
        st = os.stat(path, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            raise IntegrityError(f"artifact {rel!r} is a symlink")
        key = fingerprint(path, st)
        if (
            key is not None
            and st.st_size == expected.size
            and verified_files().known(key, expected.sha256)
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
    if key is not None:
        verified_files().remember([(key, expected.sha256)])


def verify_tree(root: Path, manifest: Manifest) -> None:
    """Check every manifest file under ``root``.

    Raises:
        IntegrityError: A file is missing or differs from the manifest.
    """
    for rel, entry in manifest.files.items():
        verify_file(root / safe_relpath(rel), entry, rel)


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
