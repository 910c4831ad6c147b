"""Registrations a killed client left pending, so running it again continues them.

Before uploading, the client notes the uid it reserved under a key made of the server, the
card's registry, space, name, requested version and bump, and its manifest (the SHA-256 of
every file) in ``$XDG_CACHE_HOME/opsml/pending/`` (``~/.cache`` by default;
``CacheConfig.pending_dir``), with its own ``host:pid``. A later registration of the same
content reuses that uid only when the process that noted it is gone, so the server hands
back the same reservation (same version, same object keys) and only the missing bytes or
parts are sent. Concurrent registrations of identical content never share a uid. The note
is removed when the registration finishes or fails cleanly.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from opsml.storage import Manifest, open_private, owner_is_dead, owner_token

__all__ = ["PendingRegistrations"]


class PendingRegistrations:
    """Notes of reserved-but-unfinished registrations, one small JSON file each.

    Args:
        folder: Where the notes live; ``None`` keeps none (a killed registration is not
            continued, its reservation is left to ``opsml gc``).
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

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

    def _file(self, key: str) -> Path | None:
        return self.folder / f"{key}.json" if self.folder is not None else None

    def claim(self, key: str) -> str | None:
        """The uid of an identical registration whose process died, if there is one."""
        file = self._file(key)
        if file is None:
            return None
        try:
            note = json.loads(file.read_text(encoding="utf-8"))
            uid, owner = str(note["uid"]), str(note["owner"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return uid if owner_is_dead(owner) else None

    def remember(self, key: str, uid: str) -> None:
        """Note that this process reserved ``uid`` for the registration ``key``."""
        if self.folder is None:
            return
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = self.folder / f".{key}.{os.getpid()}.tmp"
            with open_private(tmp) as fh:
                fh.write(json.dumps({"uid": uid, "owner": owner_token()}).encode())
            os.replace(tmp, self.folder / f"{key}.json")

    def forget(self, key: str) -> None:
        """Remove the note of ``key``."""
        file = self._file(key)
        if file is not None:
            file.unlink(missing_ok=True)
