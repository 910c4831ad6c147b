"""The readiness probe of object storage: a bucket that exists answers, a missing one is a
``StorageError`` naming it (on each emulated cloud)."""

from __future__ import annotations

import pytest
from _emulators import Emulator

from opsml.errors import StorageError
from opsml.settings import CloudConfig
from opsml.storage import open_storage


def test_probe_finds_the_bucket_or_names_the_missing_one(cloud: Emulator, bucket_uri: str) -> None:
    open_storage(bucket_uri, cloud=CloudConfig.from_env()).probe()
    missing = open_storage(
        f"{cloud.scheme}://opsml-no-such-bucket/registry", cloud=CloudConfig.from_env()
    )
    with pytest.raises(StorageError, match="opsml-no-such-bucket"):
        missing.probe()
