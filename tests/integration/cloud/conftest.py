"""Fixtures for object storage: real emulators (moto's S3 server, gcp-storage-emulator,
Azurite), started once per test process on free loopback ports, a new bucket per test.

``cloud_registry_env`` (also available as ``registry_env`` here, so the registry suite runs
unchanged) is parametrised over the three clouds and both modes: local mode with
``OPSML_STORAGE_URI`` pointing at the bucket, and client mode against a real server process
whose storage is the bucket. It returns a ``pathlib``-like view of the storage root.
"""

from __future__ import annotations

import functools
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _bucket import BucketPath
from _emulators import Emulator, azurite_available, start

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CLOUDS = ("s3", "gcs", "azure")


@pytest.fixture(scope="session")
def _emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Emulator]]:
    running: dict[str, Emulator] = {}
    yield running
    for emulator in running.values():
        emulator.stop()


def _emulator(kind: str, running: dict[str, Emulator], tmp: pytest.TempPathFactory) -> Emulator:
    if kind not in running:
        if kind == "azure" and not azurite_available():
            message = "Azurite is not installed: run `make emulators`"
            if IN_CI:
                pytest.fail(message)
            pytest.skip(message)
        running[kind] = start(kind, tmp.mktemp(f"emulator-{kind}"))
    return running[kind]


@pytest.fixture
def start_emulator(
    _emulators: dict[str, Emulator], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Emulator]:
    """Start (once per test process) and return the emulator of a cloud by name."""
    return functools.partial(_emulator, running=_emulators, tmp=tmp_path_factory)


@pytest.fixture(params=CLOUDS)
def cloud(
    request: pytest.FixtureRequest,
    _emulators: dict[str, Emulator],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Emulator:
    """A running emulator of each cloud, its client variables set in this process."""
    emulator = _emulator(request.param, _emulators, tmp_path_factory)
    for key, value in emulator.env.items():
        monkeypatch.setenv(key, value)
    return emulator


@pytest.fixture
def bucket_uri(cloud: Emulator) -> str:
    """A new, empty bucket on the emulator, as a storage URI with a prefix."""
    bucket = f"opsml-{secrets.token_hex(6)}"
    cloud.make_bucket(bucket)
    return f"{cloud.scheme}://{bucket}/registry"


def storage_view(uri: str) -> BucketPath:
    """A ``Path``-like view of the storage root ``uri``."""
    from opsml.settings import CloudConfig
    from opsml.storage import ObjectStorage, open_storage

    storage = open_storage(uri, cloud=CloudConfig.from_env())
    assert isinstance(storage, ObjectStorage)
    return BucketPath(storage.fs, f"{storage.bucket}/{storage.root}")


@pytest.fixture(params=["local", pytest.param("client", marks=pytest.mark.client)])
def cloud_registry_env(
    request: pytest.FixtureRequest,
    cloud: Emulator,
    bucket_uri: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[BucketPath]:
    """Local mode (SQLite) and client mode (a real server process) with the artifacts in a
    fresh bucket of each emulated cloud; returns a ``Path``-like view of the storage root."""
    if request.param == "local":
        from tests.conftest import _empty_registry

        _empty_registry(tmp_path / "opsml.db")
        monkeypatch.setenv("OPSML_TRACKING_URI", f"sqlite:///{(tmp_path / 'opsml.db').as_posix()}")
        monkeypatch.setenv("OPSML_STORAGE_URI", bucket_uri)
        yield storage_view(bucket_uri)
        return
    from opsml.mock import OpsmlTestServer

    server = OpsmlTestServer(
        base_path=tmp_path / "server", env={**cloud.env, "OPSML_STORAGE_URI": bucket_uri}
    )
    server.start_server()
    monkeypatch.setenv("OPSML_TRACKING_URI", server.server_uri)
    monkeypatch.delenv("OPSML_STORAGE_URI", raising=False)
    monkeypatch.setenv("OPSML_CACHE_DIR", str(tmp_path / "client-cache"))  # one per test
    try:
        yield storage_view(bucket_uri)
    finally:
        server.stop_server()


@pytest.fixture
def registry_env(cloud_registry_env: BucketPath) -> BucketPath:
    """The registry suite's fixture, on object storage (see ``cloud_registry_env``)."""
    return cloud_registry_env
