"""Artifact storage: one small interface, one backend per kind of store."""

from __future__ import annotations

from opsml.errors import InvalidArgumentError
from opsml.settings import CloudConfig
from opsml.storage._base import ArtifactStorage, owner_is_dead, owner_token
from opsml.storage._encrypted import EncryptedLocalStorage, KeyTable
from opsml.storage._encryption import KEY_PREFIX, MasterKeys, WrappedKey, generate_key
from opsml.storage._local import LocalStorage
from opsml.storage._manifest import (
    FileEntry,
    HashedFiles,
    Manifest,
    copy_tree_verified,
    copy_verified,
    hash_file,
    open_private,
    safe_relpath,
    verify_file,
    verify_tree,
)
from opsml.storage._object import ObjectStorage
from opsml.storage._plans import PartPlan, StoredFile, UploadPlan
from opsml.storage._uploads import Appender, UploadArea
from opsml.storage._verified import Fingerprint, VerifiedFiles, fingerprint

__all__ = [
    "Appender",
    "ArtifactStorage",
    "EncryptedLocalStorage",
    "FileEntry",
    "Fingerprint",
    "HashedFiles",
    "KEY_PREFIX",
    "KeyTable",
    "LocalStorage",
    "Manifest",
    "MasterKeys",
    "ObjectStorage",
    "PartPlan",
    "StoredFile",
    "UploadArea",
    "UploadPlan",
    "VerifiedFiles",
    "WrappedKey",
    "copy_tree_verified",
    "copy_verified",
    "fingerprint",
    "generate_key",
    "hash_file",
    "open_private",
    "open_storage",
    "owner_is_dead",
    "owner_token",
    "safe_relpath",
    "verify_file",
    "verify_tree",
]


def open_storage(
    uri: str, *, cloud: CloudConfig | None = None, verified: VerifiedFiles | None = None
) -> ArtifactStorage:
    """Return the storage backend for ``uri``.

    Args:
        uri: A local path (or ``file://`` URL), ``s3://bucket/prefix``, ``gs://bucket/prefix``
            or ``az://container/prefix`` (``gcs://``, ``abfs://`` and ``azure://`` are
            accepted too). Nothing is contacted until the first read or write.
        cloud: How object storage is reached: endpoint, emulator, Azure account
            (``OpsmlConfig.cloud``; AWS itself and Google's service when omitted).
        verified: For a local folder: the fingerprints of verified files it reads through
            (``VerifiedFiles(OpsmlConfig.cache.verified_db)``; in memory when omitted).

    Raises:
        InvalidArgumentError: The scheme is not supported, or the URI names no bucket.
    """
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else "file"
    if scheme == "file":
        return LocalStorage(uri.removeprefix("file://"), verified=verified)
    if scheme == "s3":
        from opsml.storage._s3 import S3Storage

        return S3Storage(uri, cloud)
    if scheme in ("gs", "gcs"):
        from opsml.storage._gcs import GcsStorage

        return GcsStorage(uri, cloud)
    if scheme in ("az", "abfs", "azure"):
        from opsml.storage._azure import AzureStorage

        return AzureStorage(uri, cloud)
    raise InvalidArgumentError(
        f"storage URI scheme {scheme!r} is not supported; use a local path, s3://, gs:// or az://"
    )
