"""A cache of verified artifact files on this machine, for client mode.

Files a client registered through a server, or downloaded from it to load a card, are kept
by SHA-256 under ``$XDG_CACHE_HOME/opsml/blobs`` (``~/.cache`` when unset;
``OPSML_CACHE_DIR`` overrides it), so loading a card whose files are here downloads nothing.
The client backend builds its cache once, from its configuration
(:meth:`BlobCache.from_config`, ``OpsmlConfig.cache``), and hands it to the cards it loads.

Trust: a file enters the cache only right after this process hashed it (into the manifest
it registered, or while downloading it: :class:`~opsml.storage.HashedFiles`), by a rename
inside the cache's folder, and is remembered by its fingerprint (see
:mod:`opsml.storage._verified`). A cached file is used only while that fingerprint is
unchanged; a file changed in any way is hashed again and thrown away if it no longer matches.

Size: ``OPSML_CACHE_MAX_BYTES`` (default 10 GiB; ``0`` turns the cache off). When a new
file takes it over the limit, the files used longest ago go first; a file used in the last
ten minutes is never removed (a loader may be about to open it).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from opsml.settings import DEFAULT_CLIENT_CACHE_BYTES, CacheConfig
from opsml.storage import (
    FileEntry,
    HashedFiles,
    VerifiedFiles,
    copy_verified,
    fingerprint,
    hash_file,
)

__all__ = ["BlobCache"]

_IN_USE_SECONDS = 600


class BlobCache:
    """Verified files by SHA-256, under ``root``, at most ``max_bytes`` in all.

    Args:
        root: The cache folder (``blobs/`` and ``tmp/`` are made inside it).
        max_bytes: Size limit.
        verified: The fingerprints of the cached files known to be intact (in memory
            when omitted).
    """

    def __init__(
        self,
        root: Path,
        max_bytes: int = DEFAULT_CLIENT_CACHE_BYTES,
        verified: VerifiedFiles | None = None,
    ) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.blobs = root / "blobs"
        self.tmp = root / "tmp"
        self.verified = verified if verified is not None else VerifiedFiles(None)

    @classmethod
    def from_config(
        cls, cache: CacheConfig, verified: VerifiedFiles | None = None
    ) -> BlobCache | None:
        """The cache ``cache`` asks for (``client_cache``, ``client_cache_max_bytes``), or
        ``None`` when it is turned off.

        Args:
            cache: The cache settings.
            verified: The fingerprints of verified files to share (new, from ``cache``,
                when omitted).
        """
        folder = cache.client_cache
        if folder is None:
            return None
        if verified is None:
            verified = VerifiedFiles(cache.verified_db)
        return cls(folder, cache.client_cache_max_bytes, verified)

    def blob(self, sha256: str) -> Path:
        """Where the file with this SHA-256 is kept."""
        return self.blobs / sha256

    @contextmanager
    def workspace(self, prefix: str) -> Iterator[Path]:
        """A private temporary folder on the cache's filesystem (files in it can join the
        cache by a rename), removed afterwards."""
        self.tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.TemporaryDirectory(prefix=prefix, dir=self.tmp) as tmp:
            yield Path(tmp)

    def lookup(self, entry: FileEntry) -> Path | None:
        """The cached file for ``entry`` if it is there and unchanged since it was
        verified (a changed one is hashed again, and removed unless it still matches)."""
        path = self.blob(entry.sha256)
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError:
            return None
        key = fingerprint(path, st)
        if key is None or st.st_size != entry.size:
            self._drop(path)
            return None
        if not self.verified.known(key, entry.sha256):
            if hash_file(path) != entry:
                self._drop(path)
                return None
            self.verified.remember([(key, entry.sha256)])
        self._touch(entry.sha256)
        return path

    def adopt(self, path: Path, entry: FileEntry, hashed: HashedFiles) -> Path | None:
        """Move ``path`` into the cache if ``hashed`` (this process) hashed it to ``entry``
        and it has not changed since; returns the cached file (``None`` when not taken)."""
        if hashed.unchanged(path, entry.sha256) is None:
            return None
        blob = self.blob(entry.sha256)
        try:
            before = os.stat(path, follow_symlinks=False)
            self.blobs.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.replace(path, blob)
            after = os.stat(blob, follow_symlinks=False)
        except OSError:
            return None
        same = (before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns)
        key = fingerprint(blob, after)
        if key is None or same != (after.st_dev, after.st_ino, after.st_size, after.st_mtime_ns):
            return None
        self.verified.remember([(key, entry.sha256)])
        self._touch(entry.sha256)
        self._evict(keep=entry.sha256)
        return blob

    def _used(self, sha256: str) -> Path:
        return self.blobs / f"{sha256}.used"

    def _touch(self, sha256: str) -> None:
        """Note a use (on a marker file: the cached file itself must stay untouched)."""
        with contextlib.suppress(OSError):
            self._used(sha256).touch()

    def _drop(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self._used(path.name).unlink(missing_ok=True)

    def _evict(self, keep: str) -> None:
        """Remove the files used longest ago until the cache fits ``max_bytes``."""
        files: list[tuple[float, int, Path]] = []
        total = 0
        now = time.time()
        with contextlib.suppress(OSError), os.scandir(self.blobs) as entries:
            for item in entries:
                if item.name.endswith(".used") or not item.is_file(follow_symlinks=False):
                    continue
                size = item.stat(follow_symlinks=False).st_size
                total += size
                try:
                    used = self._used(item.name).stat().st_mtime
                except OSError:
                    used = item.stat(follow_symlinks=False).st_mtime
                if item.name != keep and now - used >= _IN_USE_SECONDS:
                    files.append((used, size, Path(item.path)))
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            self._drop(path)
            total -= size

    def copy_to(self, entry: FileEntry, dest: Path, rel: str) -> bool:
        """Copy the cached file for ``entry`` to ``dest``, hashing it on the way (``dest``
        appears only if it matches); whether the cache had it."""
        cached = self.lookup(entry)
        if cached is None:
            return False
        copy_verified(cached, dest, entry, rel)
        return True
