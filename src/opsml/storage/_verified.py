"""Which local artifact files this user already verified, kept across processes.

Reading a card from local storage checks every file against its manifest's SHA-256. Hashing
a large file costs as much as reading it, so (like git's index) opsml remembers a file it
hashed by its *fingerprint*: path, device, inode, size, modification and change time. Any
write to the file changes its change time, which user space cannot set back, so a file
whose fingerprint is unchanged holds the bytes that were hashed; a changed fingerprint
brings the full check back.

Fingerprints are recorded when a file is hashed for verification and when this process
registered it (the bytes hashed into the manifest in the private staging folder, unchanged
since, as the same inode after the rename into place: see
:class:`~opsml.storage.HashedFiles`). A :class:`VerifiedFiles` keeps them in memory and in
a small SQLite file, ``$XDG_CACHE_HOME/opsml/verified.sqlite3`` (``~/.cache`` when unset;
mode 0600; ``CacheConfig.verified_db``), so a card registered or verified by one process
loads without a re-hash in the next one on the same machine. It is an explicit object: the
local storage is constructed with one (built from the configuration by the registry), the
client's cache with another. ``OPSML_VERIFY_CACHE=false`` gives one without the file (every
new process hashes every file again); files on filesystems with whole-second timestamps
are never remembered. Downloads (client mode, object storage) are always hashed as they
arrive.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from pathlib import Path

__all__ = ["Fingerprint", "VerifiedFiles", "fingerprint"]

Fingerprint = tuple[str, int, int, int, int, int]
"""Path, device, inode, size, modification time (ns), change time (ns)."""

_MEMORY_MAX = 10_000
_KEEP_SECONDS = 90 * 24 * 3600


def fingerprint(path: Path, st: os.stat_result) -> Fingerprint | None:
    """The fingerprint of ``path`` as of ``st``; ``None`` where timestamps have whole-second
    resolution (a quick rewrite there could keep the same fingerprint)."""
    if st.st_mtime_ns % 1_000_000_000 == 0 and st.st_ctime_ns % 1_000_000_000 == 0:
        return None
    return (os.fspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class VerifiedFiles:
    """Fingerprints of files whose SHA-256 is known, in memory and (optionally) on disk.

    Args:
        db_path: The SQLite file (shared by this user's processes), or ``None`` for memory
            only.
    """

    def __init__(self, db_path: Path | None) -> None:
        self.db_path = db_path
        self._memory: dict[Fingerprint, str] = {}
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._db_pid = 0
        self._db_failed = db_path is None

    def __copy__(self) -> VerifiedFiles:
        return self  # one cache, however many objects refer to it (cards are copied)

    def __deepcopy__(self, memo: dict[int, object]) -> VerifiedFiles:
        return self

    def _connection(self) -> sqlite3.Connection | None:
        """The on-disk table, opened on first use; ``None`` if it cannot be used (the
        cache is an optimisation: a broken file only means files are hashed again)."""
        if self._db is not None and self._db_pid != os.getpid():
            self._db = None  # a forked child opens its own connection
        if self._db is not None or self._db_failed:
            return self._db
        assert self.db_path is not None
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.db_path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            db = sqlite3.connect(self.db_path, timeout=2.0, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS verified (path TEXT PRIMARY KEY, dev INTEGER, "
                "ino INTEGER, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, "
                "sha256 TEXT, at REAL)"
            )
            db.execute("DELETE FROM verified WHERE at < ?", (time.time() - _KEEP_SECONDS,))
            db.commit()
        except (OSError, sqlite3.Error):
            self._db_failed = True
            return None
        self._db = db
        self._db_pid = os.getpid()
        return db

    def known(self, key: Fingerprint, sha256: str) -> bool:
        """Whether the file with this fingerprint was verified to hash to ``sha256``."""
        with self._lock:
            if self._memory.get(key) == sha256:
                return True
            db = self._connection()
            if db is None:
                return False
            try:
                row = db.execute(
                    "SELECT dev, ino, size, mtime_ns, ctime_ns, sha256 FROM verified "
                    "WHERE path = ?",
                    (key[0],),
                ).fetchone()
            except sqlite3.Error:
                return False
            if row is None or tuple(row) != (*key[1:], sha256):
                return False
            self._remember_in_memory(key, sha256)
            return True

    def remember(self, entries: list[tuple[Fingerprint, str]]) -> None:
        """Record files whose bytes are known to hash to the given SHA-256."""
        if not entries:
            return
        with self._lock:
            for key, sha256 in entries:
                self._remember_in_memory(key, sha256)
            db = self._connection()
            if db is None:
                return
            now = time.time()
            with contextlib.suppress(sqlite3.Error):
                db.executemany(
                    "INSERT OR REPLACE INTO verified VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(*key, sha256, now) for key, sha256 in entries],
                )
                db.commit()

    def _remember_in_memory(self, key: Fingerprint, sha256: str) -> None:
        if len(self._memory) >= _MEMORY_MAX:
            self._memory.clear()
        self._memory[key] = sha256
