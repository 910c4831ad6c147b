"""Per-card manifests: the size and SHA-256 of every artifact file, and their verification."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import threading
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from pydantic import BaseModel, Field

from opsml.errors import IntegrityError, InvalidArgumentError

__all__ = [
    "FileEntry",
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

    size: int = Field(ge=0)
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
                files[rel] = hash_file(full)
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


_VerifiedKey = tuple[str, int, int, int, int, int]
_VERIFIED: dict[_VerifiedKey, str] = {}
_VERIFIED_LOCK = threading.Lock()
_VERIFIED_MAX = 10_000


def _fingerprint(path: Path, st: os.stat_result) -> _VerifiedKey | None:
    """What identifies this exact file version: path, device, inode, size, mtime, ctime.

    Writing to a file changes its mtime and ctime (ctime cannot be set back from user
    space), so an unchanged fingerprint means unchanged bytes. ``None`` on filesystems with
    whole-second timestamps, where a quick rewrite could keep the fingerprint.
    """
    if st.st_mtime_ns % 1_000_000_000 == 0 and st.st_ctime_ns % 1_000_000_000 == 0:
        return None
    return (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def verify_file(path: Path, expected: FileEntry, rel: str) -> None:
    """Raise :class:`IntegrityError` unless ``path`` matches ``expected``.

    The SHA-256 is computed over the whole file. This process remembers files it verified
    (by path, device, inode, size, mtime and ctime), so reading an unchanged file again does
    not hash it again; any write to the file changes that fingerprint and brings the full
    check back.

    Args:
        path: The file on disk.
        expected: Its manifest entry.
        rel: Its manifest path, for the error message.
    """
    try:
        st = os.stat(path, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            raise IntegrityError(f"artifact {rel!r} is a symlink")
        key = _fingerprint(path, st)
        if key is not None and st.st_size == expected.size:
            with _VERIFIED_LOCK:
                if _VERIFIED.get(key) == expected.sha256:
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
        with _VERIFIED_LOCK:
            if len(_VERIFIED) >= _VERIFIED_MAX:
                _VERIFIED.clear()
            _VERIFIED[key] = expected.sha256


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
