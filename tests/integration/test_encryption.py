"""Encryption at rest with a real registry: local mode and a server process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from opsml import CardRegistry, DataCard, RegistryType
from opsml._uuid import uuid7
from opsml.cli._keys import rotate_keys
from opsml.data import PandasData
from opsml.errors import IntegrityError
from opsml.mock import OpsmlTestServer
from opsml.storage._encryption import MasterKeys, generate_key

FRAME = pd.DataFrame({"a": np.arange(300_000.0), "b": np.arange(300_000) % 7})


def _stored(root: Path) -> list[Path]:
    """Every file under the storage root, the upload area included."""
    return [p for p in root.rglob("*") if p.is_file()]


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


@pytest.mark.client
def test_no_plaintext_outlives_a_registration_in_client_mode(
    encrypted_server: OpsmlTestServer, tmp_path: Path
) -> None:
    root = tmp_path / "server" / "opsml_registries"
    card = DataCard(interface=PandasData(data=FRAME), space="s", name="plain")
    CardRegistry(RegistryType.Data).register_card(card)
    assert card.manifest is not None
    files = _stored(root)
    assert files, "the card's files are stored"
    assert all(p.read_bytes()[:8] == b"OPSMLENC" for p in files), [str(p) for p in files]

    # An aborted registration leaves nothing either (its uploaded part included).
    base = encrypted_server.server_uri
    body = {
        "uid": uuid7(),
        "card": json.loads(
            DataCard(interface=PandasData(data=FRAME), space="s", name="x").model_dump_json()
        ),
        "manifest": card.manifest.model_dump(mode="json"),
    }
    reserved = httpx.post(f"{base}/opsml/api/data/cards/reserve", json=body)
    assert reserved.status_code == 200, reserved.text
    upload = reserved.json()["uploads"][0]
    sent = httpx.put(f"{base}{upload['url']}", content=b"PAR1" + b"\0" * 1000)
    assert sent.json()["received"] == 1004
    assert [p for p in _stored(root) if p.read_bytes()[:4] == b"PAR1"] != []
    ended = httpx.delete(f"{base}/opsml/api/data/cards/{body['uid']}/reservation")
    assert ended.status_code == 200
    assert all(p.read_bytes()[:8] == b"OPSMLENC" for p in _stored(root))


@pytest.mark.client
def test_a_wrong_master_key_is_reported_as_such_by_the_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base_path = tmp_path / "server"
    first_key, other_key = generate_key(), generate_key()
    with OpsmlTestServer(
        base_path=base_path, env={"OPSML_ENCRYPT_SECRET": first_key}, cleanup=False
    ):
        card = DataCard(interface=PandasData(data=FRAME), space="s", name="keyed")
        CardRegistry(RegistryType.Data).register_card(card)
    monkeypatch.setenv("OPSML_CACHE_MAX_BYTES", "0")  # every byte from the server
    with OpsmlTestServer(
        base_path=base_path, env={"OPSML_ENCRYPT_SECRET": other_key}, cleanup=False
    ):  # keeps the registry: local mode reads it below
        loaded = CardRegistry(RegistryType.Data).load_card(uid=card.uid)
        with pytest.raises(IntegrityError, match=r"master key .* OPSML_ENCRYPT_SECRET does not"):
            loaded.load()

    # Local mode on the same store, without any secret: it says the files are encrypted,
    # and with which key, rather than that they do not match their manifest.
    monkeypatch.setenv("OPSML_TRACKING_URI", f"sqlite:///{(base_path / 'opsml.db').as_posix()}")
    monkeypatch.setenv("OPSML_STORAGE_URI", str(base_path / "opsml_registries"))
    monkeypatch.delenv("OPSML_ENCRYPT_SECRET", raising=False)
    key_id = MasterKeys(first_key).current
    with pytest.raises(IntegrityError, match=f"encrypted at rest with master key {key_id}"):
        CardRegistry(RegistryType.Data).load_card(uid=card.uid).load()


RANGES = [
    None,
    "bytes=0-0",
    "bytes=10-19",
    "bytes=-10",
    "bytes=100-",
    "bytes=0-999999999",
    "bytes=5-1",
    "bytes=abc",
    "bytes=",
    "bytes=999999999-",
    "bytes=-0",
    "items=0-5",
    "bytes=0-1,3-4",
]


@pytest.mark.client
def test_ranges_are_answered_alike_for_plain_and_encrypted_files(tmp_path: Path) -> None:
    answers = []
    for env in ({}, {"OPSML_ENCRYPT_SECRET": generate_key()}):
        with OpsmlTestServer(base_path=tmp_path / f"server{len(env)}", env=env) as server:
            card = DataCard(interface=PandasData(data=FRAME), space="s", name="ranged")
            CardRegistry(RegistryType.Data).register_card(card)
            url = f"{server.server_uri}/opsml/api/data/cards/{card.uid}/files/data.parquet"
            seen = []
            for wanted in RANGES:
                headers = {"range": wanted} if wanted is not None else {}
                got = httpx.get(url, headers=headers)
                body = got.json() if got.headers["content-type"] == "application/json" else None
                seen.append(
                    (
                        wanted,
                        got.status_code,
                        got.headers.get("content-range"),
                        got.headers.get("content-length"),
                        got.content if body is None else body["error"],
                    )
                )
            answers.append(seen)
    plain, encrypted = answers
    assert plain == encrypted
    status = {wanted: status for wanted, status, *_ in plain}
    assert status[None] == status["items=0-5"] == status["bytes=0-1,3-4"] == 200
    assert status["bytes=0-0"] == status["bytes=-10"] == status["bytes=100-"] == 206
    assert status["bytes=5-1"] == status["bytes=abc"] == status["bytes="] == 422
    assert status["bytes=999999999-"] == status["bytes=-0"] == 416
    whole = plain[0][4]
    assert isinstance(whole, bytes)
    assert {wanted: body for wanted, _, _, _, body in plain}["bytes=-10"] == whole[-10:]
