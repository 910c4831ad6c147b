"""Storage URIs: which backend each scheme selects, and the URIs that are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsml import CardRegistry, RegistryType
from opsml.errors import InvalidArgumentError
from opsml.storage import LocalStorage, ObjectStorage, open_storage
from opsml.storage._object import split_uri


@pytest.mark.parametrize(
    ("uri", "scheme", "bucket", "root"),
    [
        ("s3://bucket/some/prefix/", "s3", "bucket", "some/prefix"),
        ("gs://bucket", "gs", "bucket", ""),
        ("gcs://b/p", "gcs", "b", "p"),
        ("az://container/p", "az", "container", "p"),
    ],
)
def test_object_uris_select_a_bucket_and_prefix(
    uri: str, scheme: str, bucket: str, root: str
) -> None:
    storage = open_storage(uri)  # nothing is contacted before the first read or write
    assert isinstance(storage, ObjectStorage)
    assert split_uri(uri) == (scheme, bucket, root)
    assert (storage.bucket, storage.root) == (bucket, root)
    assert storage.key("t/s/n/v1.0.0", "model.joblib").endswith("t/s/n/v1.0.0/model.joblib")


@pytest.mark.parametrize("uri", ["s3://", "gs:///prefix", "az://c/../escape", "ftp://host/x"])
def test_bad_uris_are_refused(uri: str) -> None:
    with pytest.raises(InvalidArgumentError):
        open_storage(uri)


def test_local_paths_and_file_urls(tmp_path: Path) -> None:
    assert isinstance(open_storage(str(tmp_path)), LocalStorage)
    assert isinstance(open_storage(f"file://{tmp_path}"), LocalStorage)


def test_encryption_with_a_bucket_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPSML_TRACKING_URI", f"sqlite:///{tmp_path / 'opsml.db'}")
    monkeypatch.setenv("OPSML_STORAGE_URI", "s3://bucket/opsml")
    monkeypatch.setenv("OPSML_ENCRYPT_SECRET", "x" * 64)
    with pytest.raises(InvalidArgumentError, match="server-side encryption"):
        CardRegistry(RegistryType.Model)
