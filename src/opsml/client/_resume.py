"""Registrations a killed client left pending, so running it again continues them.

Before uploading, the client notes the uid it reserved under a key made of the server, the
card's registry, space, name, requested version and bump, and its manifest (the SHA-256 of
every file) in ``$XDG_CACHE_HOME/opsml/pending/`` (``~/.cache`` by default), with its own
``host:pid``. A later registration of the same content reuses that uid only when the process
that noted it is gone, so the server hands back the same reservation (same version, same
object keys) and only the missing bytes or parts are sent. Concurrent registrations of
identical content never share a uid. The note is removed when the registration finishes or
fails cleanly.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from opsml.storage import Manifest, owner_is_dead, owner_token
from opsml.storage._manifest import open_private

__all__ = ["PendingRegistrations"]


class PendingRegistrations:
    """Notes of reserved-but-unfinished registrations, one small JSON file each.

    Args:
        folder: Where the notes live.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def default(cls) -> PendingRegistrations:
        """The notes under ``$XDG_CACHE_HOME/opsml/pending`` (``~/.cache`` when unset)."""
        cache = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
        return cls(Path(cache) / "opsml" / "pending")

    @staticmethod
    def key(server: str, registry: str, identity: dict[str, object], manifest: Manifest) -> str:
        """What identifies one registration attempt (hex SHA-256)."""
        text = json.dumps(
            {
                "server": server,
                "registry": registry,
                "identity": identity,
                "manifest": manifest.model_dump(mode="json"),
            },
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()

    def _file(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def claim(self, key: str) -> str | None:
        """The uid of an identical registration whose process died, if there is one."""
        try:
            note = json.loads(self._file(key).read_text(encoding="utf-8"))
            uid, owner = str(note["uid"]), str(note["owner"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return uid if owner_is_dead(owner) else None

    def remember(self, key: str, uid: str) -> None:
        """Note that this process reserved ``uid`` for the registration ``key``."""
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = self.folder / f".{key}.{os.getpid()}.tmp"
            with open_private(tmp) as fh:
                fh.write(json.dumps({"uid": uid, "owner": owner_token()}).encode())
            os.replace(tmp, self._file(key))

    def forget(self, key: str) -> None:
        """Remove the note of ``key``."""
        self._file(key).unlink(missing_ok=True)
