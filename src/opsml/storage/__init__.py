"""Artifact storage: one small interface, one backend per kind of store."""

from __future__ import annotations

from opsml.errors import InvalidArgumentError
from opsml.storage._base import ArtifactStorage, owner_is_dead, owner_token
from opsml.storage._local import LocalStorage
from opsml.storage._manifest import FileEntry, Manifest, hash_file, safe_relpath, verify_file
from opsml.storage._object import ObjectStorage
from opsml.storage._plans import PartPlan, StoredFile, UploadPlan
from opsml.storage._uploads import Appender, UploadArea

__all__ = [
    "Appender",
    "ArtifactStorage",
    "FileEntry",
    "LocalStorage",
    "Manifest",
    "ObjectStorage",
    "PartPlan",
    "StoredFile",
    "UploadArea",
    "UploadPlan",
    "hash_file",
    "open_storage",
    "owner_is_dead",
    "owner_token",
    "safe_relpath",
    "verify_file",
]


def open_storage(uri: str) -> ArtifactStorage:
    """Return the storage backend for ``uri``.

    Args:
        uri: A local path (or ``file://`` URL), ``s3://bucket/prefix``, ``gs://bucket/prefix``
            or ``az://container/prefix`` (``gcs://``, ``abfs://`` and ``azure://`` are
            accepted too). Nothing is contacted until the first read or write.

    Raises:
        InvalidArgumentError: The scheme is not supported, or the URI names no bucket.
    """
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else "file"
    if scheme == "file":
        return LocalStorage(uri.removeprefix("file://"))
    if scheme == "s3":
        from opsml.storage._s3 import S3Storage

        return S3Storage(uri)
    if scheme in ("gs", "gcs"):
        from opsml.storage._gcs import GcsStorage

        return GcsStorage(uri)
    if scheme in ("az", "abfs", "azure"):
        from opsml.storage._azure import AzureStorage

        return AzureStorage(uri)
    raise InvalidArgumentError(
        f"storage URI scheme {scheme!r} is not supported; use a local path, s3://, gs:// or az://"
    )
