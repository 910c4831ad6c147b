"""The tokens ``opsml login`` stores, per server, in the user's config folder.

``$XDG_CONFIG_HOME/opsml/credentials.json`` (``~/.config/opsml/credentials.json``; or
``OPSML_CREDENTIALS_FILE``), readable by its owner only (file mode ``0600``, folder
``0700``), written atomically. It holds each server's access and refresh token; a client
with neither a password nor an API token uses them and refreshes them when the access token
runs out (the refresh token is valid once: the new pair is written back).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CredentialStore", "StoredTokens"]


@dataclass(frozen=True)
class StoredTokens:
    """One server's tokens."""

    access_token: str
    refresh_token: str


class CredentialStore:
    """The credentials file.

    Args:
        path: The file (created on the first :meth:`save`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def load(self, server: str) -> StoredTokens | None:
        """The tokens stored for ``server`` (its base URL), or ``None``."""
        entry = self._read().get(server.rstrip("/"))
        if not isinstance(entry, dict):
            return None
        access, refresh = entry.get("access_token"), entry.get("refresh_token")
        if not isinstance(access, str) or not isinstance(refresh, str):
            return None
        return StoredTokens(access, refresh)

    def save(self, server: str, tokens: StoredTokens | None) -> None:
        """Store (``None``: forget) the tokens of ``server``, readable by the owner only."""
        data = self._read()
        key = server.rstrip("/")
        if tokens is None:
            data.pop(key, None)
        else:
            data[key] = {"access_token": tokens.access_token, "refresh_token": tokens.refresh_token}
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=2)
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
