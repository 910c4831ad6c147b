"""Artifact storage: one small interface, one backend per kind of store."""

from __future__ import annotations

from opsml.errors import InvalidArgumentError
from opsml.storage._base import ArtifactStorage, owner_is_dead, owner_token
from opsml.storage._local import LocalStorage
from opsml.storage._manifest import FileEntry, Manifest, hash_file, safe_relpath, verify_file

__all__ = [
    "ArtifactStorage",
    "FileEntry",
    "LocalStorage",
    "Manifest",
    "hash_file",
    "open_storage",
    "owner_is_dead",
    "owner_token",
    "safe_relpath",
    "verify_file",
]


def open_storage(uri: str) -> ArtifactStorage:
    """Return the storage backend for ``uri`` (a local path for now).

    Raises:
        InvalidArgumentError: The scheme is not supported.
    """
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else "file"
    if scheme == "file":
        return LocalStorage(uri.removeprefix("file://"))
    raise InvalidArgumentError(
        f"storage URI scheme {scheme!r} is not supported yet; use a local path"
    )
