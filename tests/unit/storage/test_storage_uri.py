"""Storage URIs: which backend each scheme selects, and the URIs that are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsml import CardRegistry, RegistryType
from opsml.errors import InvalidArgumentError
from opsml.settings import CloudConfig
from opsml.storage import LocalStorage, ObjectStorage, open_storage
from opsml.storage._azure import AzureStorage
from opsml.storage._gcs import GcsStorage
from opsml.storage._object import split_uri
from opsml.storage._s3 import S3Storage


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


_CLOUD_ENV = {
    "AWS_ENDPOINT_URL": "http://generic:9000",
    "AWS_ENDPOINT_URL_S3": "http://minio.internal:9000",
    "STORAGE_EMULATOR_HOST": "127.0.0.1:4443",
    "AZURE_STORAGE_ACCOUNT_NAME": "acct",
}


def test_object_stores_take_their_endpoints_from_the_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cloud = CloudConfig.from_env(_CLOUD_ENV)
    assert cloud.s3_endpoint_url == "http://minio.internal:9000", "the S3 variable wins"
    assert cloud.gcs_emulator == "http://127.0.0.1:4443"
    assert CloudConfig.from_env({"STORAGE_EMULATOR_HOST": "default"}).gcs_emulator is None
    s3 = open_storage("s3://b/p", cloud=cloud)
    gcs = open_storage("gs://b/p", cloud=cloud)
    assert isinstance(s3, S3Storage)
    assert isinstance(gcs, GcsStorage)
    assert (s3.endpoint_url, gcs.emulator) == (
        "http://minio.internal:9000",
        "http://127.0.0.1:4443",
    )

    for key, value in _CLOUD_ENV.items():  # only the configuration counts, not the environment
        monkeypatch.setenv(key, value)
    plain_s3 = open_storage("s3://b/p")
    plain_gcs = open_storage("gs://b/p")
    assert isinstance(plain_s3, S3Storage)
    assert isinstance(plain_gcs, GcsStorage)
    assert (plain_s3.endpoint_url, plain_gcs.emulator) == (None, None)


@pytest.mark.needs("azure")  # the azure extra (azure-storage-blob)
def test_azure_credentials_come_from_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "AccountName=env;AccountKey=a2V5")
    storage = open_storage("az://container/p", cloud=CloudConfig())
    assert isinstance(storage, AzureStorage)
    with pytest.raises(InvalidArgumentError, match="AZURE_STORAGE_CONNECTION_STRING"):
        _ = storage.service
    keyed = open_storage(
        "az://container/p",
        cloud=CloudConfig(azure_account_name="acct", azure_account_key="a2V5"),
    )
    assert isinstance(keyed, AzureStorage)
    assert keyed.service.account_name == "acct"
