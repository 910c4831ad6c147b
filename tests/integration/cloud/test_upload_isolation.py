"""Content addressing never grants access: the upload attacks of issue 14, each written from
its reproduction, against a production-configured server (auth on) on local storage and on
each emulated cloud, through the HTTP API and through the Python client.

User A reads and writes ``team-a``; user B the same on ``team-b`` only; user C writes
``team-a`` too (a colleague of A who must still not touch A's pending uploads).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from opsml import CardRegistry, DataCard, NumpyData, RegistryType
from opsml._uuid import uuid7
from opsml.experiment import start_experiment
from opsml.mock import OpsmlTestServer

pytestmark = pytest.mark.client

ADMIN = ("admin", "admin-s3cret-pw")
USERS = {
    "alice": ["team-a:read,write,delete"],
    "bob": ["team-b:read,write,delete"],
    "carol": ["team-a:read,write"],
}
PASSWORD = "password-1234"
SECRET = np.arange(4096, dtype=np.int64) * 7919  # user A's data: 32 KiB


@dataclass
class Setup:
    server: OpsmlTestServer
    base: str
    root: Any  # the storage root (a Path, or a Path-like view of the bucket)
    local: bool
    headers: dict[str, dict[str, str]]

    def as_user(self, monkeypatch: pytest.MonkeyPatch, user: str) -> None:
        """Make this process's registries act as ``user`` (with no client cache, so every
        load downloads from the server)."""
        monkeypatch.setenv("OPSML_TRACKING_URI", self.base)
        monkeypatch.setenv("OPSML_USERNAME", user)
        monkeypatch.setenv("OPSML_PASSWORD", ADMIN[1] if user == ADMIN[0] else PASSWORD)
        monkeypatch.setenv("OPSML_CACHE_MAX_BYTES", "0")

    def http(self, user: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method, f"{self.base}/opsml/api{path}", headers=self.headers[user], **kwargs
        )


def _token(base: str, user: str, password: str) -> dict[str, str]:
    answer = httpx.post(
        f"{base}/opsml/api/auth/token", json={"username": user, "password": password}
    )
    assert answer.status_code == 200, answer.text
    return {"authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture(params=["local", "s3", "gcs", "azure"])
def setup(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    start_emulator: Callable[[str], Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Setup]:
    env = {
        "OPSML_AUTH": "true",
        "OPSML_DEFAULT_USERNAME": ADMIN[0],
        "OPSML_DEFAULT_PASSWORD": ADMIN[1],
    }
    if request.param == "local":
        root: Any = tmp_path / "server" / "opsml_registries"
    else:
        from _bucket import BucketPath

        from opsml.settings import CloudConfig
        from opsml.storage import ObjectStorage, open_storage

        emulator = start_emulator(request.param)
        for key, value in emulator.env.items():
            monkeypatch.setenv(key, value)
        bucket = f"opsml-{secrets.token_hex(6)}"
        emulator.make_bucket(bucket)
        uri = f"{emulator.scheme}://{bucket}/registry"
        env.update(emulator.env, OPSML_STORAGE_URI=uri)
        storage = open_storage(uri, cloud=CloudConfig.from_env())
        assert isinstance(storage, ObjectStorage)
        root = BucketPath(storage.fs, f"{storage.bucket}/{storage.root}")
    with OpsmlTestServer(base_path=tmp_path / "server", env=env) as server:
        base = server.server_uri
        admin = _token(base, *ADMIN)
        for user, grants in USERS.items():
            made = httpx.post(
                f"{base}/opsml/api/users",
                json={"username": user, "password": PASSWORD, "grants": grants},
                headers=admin,
            )
            assert made.status_code == 200, made.text
        headers = {user: _token(base, user, PASSWORD) for user in USERS}
        headers[ADMIN[0]] = admin
        yield Setup(server, base, root, request.param == "local", headers)


def _register_secret(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> tuple[DataCard, Any]:
    """User A registers the secret; returns the card and its data file's manifest entry."""
    setup.as_user(monkeypatch, "alice")
    card = DataCard(interface=NumpyData(data=SECRET), space="team-a", name="salaries")
    CardRegistry(RegistryType.Data).register_card(card)
    assert card.manifest is not None
    rel, entry = next((r, e) for r, e in card.manifest.files.items() if r.endswith(".npy"))
    return card, (rel, entry)


def _reserve_body(space: str, files: dict[str, Any]) -> dict[str, Any]:
    card = DataCard(interface=NumpyData(data=np.arange(3)), space=space, name="loot")
    return {
        "uid": uuid7(),
        "card": json.loads(card.model_dump_json()),
        "manifest": {"files": files},
    }


def test_another_spaces_bytes_cannot_be_committed_or_probed_by_hash(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    card, (_, entry) = _register_secret(setup, monkeypatch)
    stolen = {"loot.npy": {"size": entry.size, "sha256": entry.sha256}}
    guess = {"loot.npy": {"size": entry.size, "sha256": hashlib.sha256(b"x").hexdigest()}}

    # Theft through the data registry: reserve in team-b naming A's file by its hash.
    real = setup.http("bob", "POST", "/data/cards/reserve", json=_reserve_body("team-b", stolen))
    fake = setup.http("bob", "POST", "/data/cards/reserve", json=_reserve_body("team-b", guess))
    assert real.status_code == fake.status_code == 200, real.text
    # The oracle: the answer for A's real file is the answer for a made-up one.
    for answer in (real.json(), fake.json()):
        (upload,) = answer["uploads"]
        assert (upload["offset"], upload["complete"]) == (0, False)
        assert all(not p["complete"] for p in upload.get("parts", []))
    uid = real.json()["uid"]
    commit = setup.http("bob", "POST", f"/data/cards/{uid}/commit")
    assert commit.status_code == 409
    assert commit.json()["error"] == "UploadsMissingError"
    assert "not uploaded" in commit.json()["detail"]
    status = setup.http("bob", "GET", f"/data/cards/{uid}/uploads").json()
    assert status == [{"path": "loot.npy", "received": 0, "complete": False}]
    assert setup.http("bob", "GET", f"/data/cards/{uid}/files/loot.npy").status_code == 404

    # Theft through experiment artifacts: commit a manifest entry without sending a byte.
    setup.as_user(monkeypatch, "bob")
    with start_experiment(space="team-b", name="run") as exp:
        pass
    grab = setup.http(
        "bob",
        "POST",
        f"/experiment/cards/{exp.uid}/artifacts",
        json={"manifest": {"files": stolen}},
    )
    assert grab.status_code == 409
    assert grab.json()["error"] == "UploadsMissingError"
    assert grab.json()["paths"] == ["loot.npy"]
    loot = setup.http("bob", "GET", f"/experiment/cards/{exp.uid}/files/loot.npy")
    assert loot.status_code == 404
    assert SECRET.tobytes() not in loot.content

    # And B still cannot simply read A's card.
    assert setup.http("bob", "GET", f"/data/cards/{card.uid}").status_code in (403, 404)


def test_a_pending_registration_belongs_to_the_user_who_started_it(setup: Setup) -> None:
    data = b"carol must not write this" * 100
    files = {"f.bin": {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}}
    answer = setup.http("alice", "POST", "/data/cards/reserve", json=_reserve_body("team-a", files))
    assert answer.status_code == 200, answer.text
    uid = answer.json()["uid"]

    # Carol may write team-a, but this registration is Alice's.
    assert setup.http("carol", "GET", f"/data/cards/{uid}/uploads").status_code == 403
    assert setup.http("carol", "GET", f"/data/cards/{uid}/upload-targets").status_code == 403
    if setup.local:
        put = setup.http("carol", "PUT", f"/data/cards/{uid}/files/f.bin", content=data)
        assert put.status_code == 403
    assert setup.http("carol", "POST", f"/data/cards/{uid}/commit").status_code == 403
    assert setup.http("carol", "DELETE", f"/data/cards/{uid}/reservation").status_code == 403
    # Re-reserving the same uid does not hand Carol Alice's reservation either.
    again = dict(_reserve_body("team-a", files), uid=uid)
    assert setup.http("carol", "POST", "/data/cards/reserve", json=again).status_code == 403
    # Bob cannot even see it.
    assert setup.http("bob", "GET", f"/data/cards/{uid}/uploads").status_code == 403

    status = setup.http("alice", "GET", f"/data/cards/{uid}/uploads")
    assert status.json() == [{"path": "f.bin", "received": 0, "complete": False}]
    # An admin may end it; it is gone for everyone afterwards.
    ended = setup.http(ADMIN[0], "DELETE", f"/data/cards/{uid}/reservation")
    assert ended.status_code == 200
    assert setup.http("alice", "GET", f"/data/cards/{uid}/uploads").status_code == 404


def test_garbage_under_anothers_hash_does_not_touch_their_registration(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    buffer = io.BytesIO()
    np.save(buffer, SECRET)  # the very bytes A's NumpyData will upload
    payload = buffer.getvalue()
    sha = hashlib.sha256(payload).hexdigest()
    files = {"x.bin": {"size": len(payload), "sha256": sha}}
    answer = setup.http("bob", "POST", "/data/cards/reserve", json=_reserve_body("team-b", files))
    uid = answer.json()["uid"]
    if setup.local:  # N-1 bytes of garbage under the hash A is about to register
        put = setup.http(
            "bob", "PUT", f"/data/cards/{uid}/files/x.bin", content=b"\0" * (len(payload) - 1)
        )
        assert put.status_code == 200
        assert put.json()["received"] == len(payload) - 1

    card, (_, entry) = _register_secret(setup, monkeypatch)  # A is not affected in any way
    assert entry.sha256 == sha  # the poisoned hash was the one A sent
    loaded = CardRegistry(RegistryType.Data).load_card(uid=card.uid)
    loaded.load()
    np.testing.assert_array_equal(loaded.interface.data, SECRET)


def test_a_deleted_cards_bytes_are_unreachable_at_once(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    card, (rel, entry) = _register_secret(setup, monkeypatch)
    CardRegistry(RegistryType.Data).delete_card(card)
    if setup.local:
        leftovers = [p for p in setup.root.rglob("*") if p.is_file()]
        assert [p for p in leftovers if SECRET.tobytes() in p.read_bytes()] == []

    stolen = {"loot.npy": {"size": entry.size, "sha256": entry.sha256}}
    for space, user in (("team-b", "bob"), ("team-a", "alice")):
        answer = setup.http(user, "POST", "/data/cards/reserve", json=_reserve_body(space, stolen))
        assert answer.status_code == 200, answer.text
        assert answer.json()["uploads"][0]["complete"] is False
        commit = setup.http(user, "POST", f"/data/cards/{answer.json()['uid']}/commit")
        assert commit.status_code == 409, commit.text
    # The same space, name and version again: nothing of the deleted card is taken over.
    setup.as_user(monkeypatch, "alice")
    again = DataCard(interface=NumpyData(data=np.arange(5)), space="team-a", name="salaries")
    CardRegistry(RegistryType.Data).register_card(again)
    assert again.version == card.version
    loaded = CardRegistry(RegistryType.Data).load_card(uid=again.uid)
    loaded.load()
    np.testing.assert_array_equal(loaded.interface.data, np.arange(5))
    assert rel in (again.manifest.files if again.manifest else {})


def test_damage_to_one_card_never_passes_into_another(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, (rel, _) = _register_secret(setup, monkeypatch)
    stored = setup.root / f"opsml_data_registry/team-a/salaries/v{first.version}/{rel}"
    damaged = bytearray(stored.read_bytes())
    damaged[-1] ^= 0xFF
    stored.write_bytes(bytes(damaged))

    second = DataCard(interface=NumpyData(data=SECRET), space="team-a", name="copy")
    CardRegistry(RegistryType.Data).register_card(second)  # the same bytes, a new card
    monkeypatch.setenv("OPSML_CACHE_DIR", str(Path(os.environ["HOME"]) / secrets.token_hex(4)))
    loaded = CardRegistry(RegistryType.Data).load_card(uid=second.uid)
    loaded.load()  # a fresh client, every byte from the server
    np.testing.assert_array_equal(loaded.interface.data, SECRET)
    if setup.local:
        copy = setup.root / f"opsml_data_registry/team-a/copy/v{second.version}/{rel}"
        assert os.stat(copy).st_ino != os.stat(stored).st_ino
        assert os.stat(copy).st_nlink == 1


@pytest.mark.parametrize("setup", ["local"], indirect=True)  # buckets have no upload area
def test_nothing_of_a_registration_stays_in_the_upload_area(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register_secret(setup, monkeypatch)
    uploads = setup.root / ".uploads"
    assert not uploads.exists() or [p for p in uploads.rglob("*") if p.is_file()] == []

    data = b"abandoned" * 1000
    files = {"f.bin": {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}}
    answer = setup.http("alice", "POST", "/data/cards/reserve", json=_reserve_body("team-a", files))
    uid = answer.json()["uid"]
    half = setup.http("alice", "PUT", f"/data/cards/{uid}/files/f.bin", content=data[:4000])
    assert half.json()["received"] == 4000
    assert [p for p in uploads.rglob("*") if p.is_file() and p.suffix == ".part"] != []
    assert setup.http("alice", "DELETE", f"/data/cards/{uid}/reservation").status_code == 200
    assert [p for p in uploads.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("setup", ["local"], indirect=True)
def test_a_reference_to_an_unreadable_card_reads_as_a_missing_one(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.linear_model import LogisticRegression

    from opsml import ModelCard, SklearnModel
    from opsml.errors import CardNotFoundError

    secret, _ = _register_secret(setup, monkeypatch)
    setup.as_user(monkeypatch, "bob")
    X = np.arange(20.0).reshape(10, 2)
    clf = LogisticRegression().fit(X, np.arange(10) % 2)
    messages = []
    for uid in (str(secret.uid), uuid7()):  # A's card, and one that does not exist
        card = ModelCard(
            interface=SklearnModel(model=clf, sample_data=X[:2]),
            space="team-b",
            name="derived",
            datacard_uid=uid,
        )
        with pytest.raises(CardNotFoundError) as info:
            CardRegistry(RegistryType.Model).register_card(card)
        messages.append(str(info.value).replace(uid, "<uid>"))
    assert messages[0] == messages[1]  # nothing tells the two apart
    assert len(CardRegistry(RegistryType.Model).list_cards(space="team-b")) == 0

    # The same through an update of a card Bob registered without the reference.
    mine = ModelCard(interface=SklearnModel(model=clf, sample_data=X[:2]), space="team-b", name="m")
    CardRegistry(RegistryType.Model).register_card(mine)
    updated = []
    for uid in (str(secret.uid), uuid7()):
        mine.metadata.datacard_uid = uid
        with pytest.raises(CardNotFoundError) as info:
            CardRegistry(RegistryType.Model).update_card(mine)
        updated.append(str(info.value).replace(uid, "<uid>"))
    assert updated[0] == updated[1]
    stored = CardRegistry(RegistryType.Model).load_card(uid=mine.uid)
    assert stored.metadata.datacard_uid is None


@pytest.mark.parametrize("setup", ["local"], indirect=True)
def test_an_upload_at_the_wrong_offset_is_told_where_to_go_on(setup: Setup) -> None:
    from opsml.client._api import decode_error
    from opsml.errors import UploadOffsetError

    data = b"0123456789" * 100
    files = {"f.bin": {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}}
    answer = setup.http("alice", "POST", "/data/cards/reserve", json=_reserve_body("team-a", files))
    uid = answer.json()["uid"]
    url = f"/data/cards/{uid}/files/f.bin"
    assert setup.http("alice", "PUT", url, content=data[:300]).json()["received"] == 300
    again = setup.http("alice", "PUT", url, content=data[:300])  # a retry from the start
    assert again.status_code == 409
    assert again.json()["error"] == "UploadOffsetError"
    assert (again.json()["offset"], again.json()["busy"]) == (300, False)
    error = decode_error(again)
    assert isinstance(error, UploadOffsetError)
    assert (error.offset, error.busy) == (300, False)
    rest = setup.http("alice", "PUT", url, content=data[300:], params={"offset": 300})
    assert rest.json() == {"path": "f.bin", "received": len(data), "complete": True}
