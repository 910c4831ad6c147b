"""Encryption at rest with a real registry: local mode and a server process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from opsml import CardRegistry, DataCard, RegistryType
from opsml.cli._keys import rotate_keys
from opsml.data import PandasData
from opsml.errors import IntegrityError
from opsml.mock import OpsmlTestServer
from opsml.storage._encryption import generate_key

FRAME = pd.DataFrame({"a": np.arange(300_000.0), "b": np.arange(300_000) % 7})


def _stored(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and ".uploads" not in p.parts]


def test_local_mode_encrypts_every_file_and_rotates(
    sqlite_registry_env: Path, monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    old = generate_key()
    monkeypatch.setenv("OPSML_ENCRYPT_SECRET", old)
    card = DataCard(interface=PandasData(data=FRAME), space="s", name="secret")
    CardRegistry(RegistryType.Data).register_card(card)
    files = _stored(sqlite_registry_env)
    assert {p.name for p in files} == {"card.json", "data.parquet"}
    assert all(p.read_bytes()[:8] == b"OPSMLENC" for p in files)
    assert b"secret" not in next(p for p in files if p.name == "card.json").read_bytes()
    loaded = CardRegistry(RegistryType.Data).load_card(uid=card.uid)
    loaded.load()
    pd.testing.assert_frame_equal(loaded.interface.data, FRAME)

    new = generate_key()
    assert rotate_keys(sqlite_url, f"{new},{old}") == 1
    assert rotate_keys(sqlite_url, f"{new},{old}") == 0  # nothing left to re-wrap
    monkeypatch.setenv("OPSML_ENCRYPT_SECRET", new)  # the old key is no longer needed
    again = CardRegistry(RegistryType.Data).load_card(uid=card.uid)
    again.load(path=sqlite_registry_env.parent / "copy")
    pd.testing.assert_frame_equal(again.interface.data, FRAME)
    assert all(p.read_bytes()[:8] == b"OPSMLENC" for p in _stored(sqlite_registry_env))

    monkeypatch.setenv("OPSML_ENCRYPT_SECRET", old)  # rotated away: refused
    with pytest.raises(IntegrityError, match="does not hold"):
        CardRegistry(RegistryType.Data).load_card(uid=card.uid).load()


@pytest.fixture
def encrypted_server(tmp_path: Path) -> Iterator[OpsmlTestServer]:
    env = {"OPSML_ENCRYPT_SECRET": generate_key()}
    with OpsmlTestServer(base_path=tmp_path / "server", env=env) as server:
        yield server


@pytest.mark.client
def test_server_encrypts_at_rest_and_serves_plaintext_ranges(
    encrypted_server: OpsmlTestServer, tmp_path: Path
) -> None:
    card = DataCard(interface=PandasData(data=FRAME), space="s", name="remote")
    CardRegistry(RegistryType.Data).register_card(card)
    root = tmp_path / "server" / "opsml_registries"
    stored = next(p for p in _stored(root) if p.name == "data.parquet")
    assert stored.read_bytes()[:8] == b"OPSMLENC"
    loaded = CardRegistry(RegistryType.Data).load_card(uid=card.uid)
    loaded.load()
    pd.testing.assert_frame_equal(loaded.interface.data, FRAME)

    url = f"{encrypted_server.server_uri}/opsml/api/data/cards/{card.uid}/files/data.parquet"
    whole = httpx.get(url).content
    assert whole[:4] == b"PAR1"
    part = httpx.get(url, headers={"range": f"bytes={len(whole) - 100}-"})
    assert part.status_code == 206
    assert part.content == whole[-100:]
    assert (
        part.headers["content-range"] == f"bytes {len(whole) - 100}-{len(whole) - 1}/{len(whole)}"
    )

    CardRegistry(RegistryType.Data).delete_card(loaded)
    assert not [p for p in _stored(root) if p.name == "data.parquet"]
