"""Client mode against real server processes: auth, outages, traversal, replicas.

What happened on the server is read from its access log (``server.log``), not timed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import numpy as np
import pytest

from opsml import CardRegistry, DataCard, NumpyData, Prompt, PromptCard, RegistryType
from opsml.client._api import ApiClient
from opsml.client._backend import HttpBackend
from opsml.client._credentials import CredentialStore, StoredTokens
from opsml.data import DataInterfaceSaveMetadata, DataSaveKwargs
from opsml.errors import AuthenticationError, ServerUnavailableError
from opsml.mock import OpsmlTestServer

pytestmark = pytest.mark.client

ACCESS_SECRET = "access-secret-of-the-test-server-0123456789"
AUTH_ENV = {
    "OPSML_AUTH": "true",
    "OPSML_DEFAULT_USERNAME": "admin",
    "OPSML_DEFAULT_PASSWORD": "s3cret-pw",
    "OPSML_AUTH_SECRET": ACCESS_SECRET,
    "OPSML_REFRESH_SECRET": "refresh-secret-of-the-test-server-0123456789",
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[OpsmlTestServer]:
    with OpsmlTestServer(base_path=tmp_path / "server") as srv:
        yield srv


@pytest.fixture
def auth_server(tmp_path: Path) -> Iterator[OpsmlTestServer]:
    with OpsmlTestServer(base_path=tmp_path / "server", env=AUTH_ENV) as srv:
        yield srv


def _prompt_card(name: str = "greeting") -> PromptCard:
    return PromptCard(prompt=Prompt(message="hi ${name}"), space="team", name=name)


def _access_token(server: OpsmlTestServer) -> str:
    response = httpx.post(
        f"{server.server_uri}/opsml/api/auth/token",
        json={"username": "admin", "password": "s3cret-pw"},
    )
    return str(response.json()["access_token"])


def _an_hour_later(token: str) -> str:
    """The same access token as the server sees it once it has expired: its claims and the
    server's key, issued two hours ago and expired one hour ago (no waiting for a clock)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    now = datetime.now(UTC)
    claims.update(iat=now - timedelta(hours=2), exp=now - timedelta(hours=1))
    return jwt.encode(claims, ACCESS_SECRET, algorithm="HS256")


def _requests(server: OpsmlTestServer, pattern: str) -> int:
    """How many requests matching ``pattern`` (``METHOD path" status``) the server logged."""
    assert server.base_path is not None
    log = (server.base_path / "server.log").read_text(errors="replace")
    return len(re.findall(rf'"{pattern}', log))


LOGIN_OK = r"POST /opsml/api/auth/token HTTP/1.1\" 200"


def test_login_and_transparent_token_refresh(
    auth_server: OpsmlTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = CardRegistry(RegistryType.Prompt)
    card = _prompt_card()
    registry.register_card(card)
    assert _requests(auth_server, LOGIN_OK) == 1

    # A client whose bearer token has expired since (OPSML_API_TOKEN sends it as it is)...
    monkeypatch.setenv("OPSML_API_TOKEN", _an_hour_later(_access_token(auth_server)))
    logins = _requests(auth_server, LOGIN_OK)
    loaded = CardRegistry(RegistryType.Prompt).load_card(uid=card.uid)

    assert loaded.prompt.bind(name="x").message[0].content == "hi x"
    # ...was refused once, logged in again by itself and went on.
    assert _requests(auth_server, r"GET /opsml/api/prompt/card\?uid=\S+ HTTP/1.1\" 401") == 1
    assert _requests(auth_server, LOGIN_OK) == logins + 1


def test_wrong_or_missing_credentials_are_refused(
    auth_server: OpsmlTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSML_PASSWORD", "wrong")
    with pytest.raises(AuthenticationError, match="invalid username or password"):
        CardRegistry(RegistryType.Prompt).list_cards()
    monkeypatch.delenv("OPSML_USERNAME")
    monkeypatch.delenv("OPSML_PASSWORD")
    with pytest.raises(AuthenticationError, match="OPSML_USERNAME"):
        CardRegistry(RegistryType.Prompt).list_cards()


def test_tampered_and_expired_tokens_are_refused(auth_server: OpsmlTestServer) -> None:
    base = auth_server.server_uri
    assert httpx.get(f"{base}/opsml/api/prompt/cards").status_code == 401
    token = httpx.post(
        f"{base}/opsml/api/auth/token", json={"username": "admin", "password": "s3cret-pw"}
    ).json()["access_token"]
    ok = httpx.get(f"{base}/opsml/api/prompt/cards", headers={"authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    payload, _, signature = token.partition(".")
    forged = f"{payload[:-2]}xx.{signature}"
    refused = httpx.get(
        f"{base}/opsml/api/prompt/cards", headers={"authorization": f"Bearer {forged}"}
    )
    assert refused.status_code == 401
    assert refused.json()["error"] == "AuthenticationError"
    expired = httpx.get(
        f"{base}/opsml/api/prompt/cards",
        headers={"authorization": f"Bearer {_an_hour_later(token)}"},
    )
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    assert httpx.get(f"{base}/opsml/api/healthcheck").status_code == 200
    for page in ("/", "/ui/prompt"):
        assert httpx.get(f"{base}{page}").status_code == 401, "pages need a login too"


class _StopServerData(NumpyData):
    """Saving this stops the server first: the registration then finds it gone."""

    server: OpsmlTestServer

    def save(
        self, path: Path, save_kwargs: DataSaveKwargs | None = None
    ) -> DataInterfaceSaveMetadata:
        process = self.server._process
        assert process is not None
        process.kill()  # the server dies; the client knows nothing of it
        process.wait()
        return super().save(path, save_kwargs)


def test_server_stopped_mid_call_raises_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSML_CLIENT_RETRIES", "2")
    base = tmp_path / "server"
    server = OpsmlTestServer(base_path=base, cleanup=False)
    with server:
        registry = CardRegistry(RegistryType.Data)
        interface = _StopServerData(data=np.arange(5))
        interface.server = server
        card = DataCard(interface=interface, space="team", name="outage")
        # Bounded: the first try and OPSML_CLIENT_RETRIES=2 retries, then the error.
        with pytest.raises(
            ServerUnavailableError, match=r"cannot reach the opsml server .* after 3 attempts"
        ):
            registry.register_card(card)
        assert card.uid is None
        assert card.version is None
    with OpsmlTestServer(base_path=base, cleanup=False):
        assert len(CardRegistry(RegistryType.Data).list_cards(space="team")) == 0


def test_a_file_lost_before_the_commit_is_sent_again(
    server: OpsmlTestServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The server's copy of a sent file vanishes between the upload and the commit (a
    stray writer, a storage that lost it): the client sends it again and the card commits."""
    assert server.base_path is not None
    uploads = server.base_path / "opsml_registries" / ".uploads"
    sent = HttpBackend.transfer
    lost: list[Path] = []

    def transfer_then_lose(self: HttpBackend, reservation: Any, folder: Path) -> None:
        sent(self, reservation, folder)
        if not lost:  # only the first time: the resend must arrive
            blobs = [p for p in uploads.rglob("*") if p.is_file() and len(p.name) == 64]
            assert blobs, "the upload should wait in the server's upload area"
            for blob in blobs:
                blob.unlink()
            lost.extend(blobs)

    monkeypatch.setattr(HttpBackend, "transfer", transfer_then_lose)
    registry = CardRegistry(RegistryType.Data)
    card = DataCard(interface=NumpyData(data=np.arange(7)), space="team", name="resent")
    with caplog.at_level("WARNING", logger="opsml.client"):
        registry.register_card(card)

    assert lost
    assert "sending it again" in caplog.text
    loaded = registry.load_card(uid=card.uid)
    loaded.load()
    assert loaded.interface.data.tolist() == list(range(7))


TRAVERSAL = [
    "../../../../etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252fetc%252fpasswd",
    "..\\..\\etc\\passwd",
    "%2fetc%2fpasswd",
    "data.npy%00.txt",
    "data.npy;x=y",
    "data.npy%3fx=1",
    "data.npy%23frag",
    "file:%2f%2f%2fetc%2fpasswd",
    "a" * 5000,
]


def test_file_routes_refuse_paths_outside_the_manifest(server: OpsmlTestServer) -> None:
    registry = CardRegistry(RegistryType.Data)
    card = DataCard(interface=NumpyData(data=np.arange(5)), space="team", name="target")
    registry.register_card(card)
    base = f"{server.server_uri}/opsml/api/data/cards/{card.uid}"
    with httpx.Client() as http:
        good = http.get(f"{base}/files/data.npy")
        assert good.status_code == 200
        for evil in TRAVERSAL:
            for method, url in [
                ("GET", f"{base}/files/{evil}"),
                ("PUT", f"{base}/files/{evil}?offset=0"),
                ("GET", f"{server.server_uri}/opsml/api/data/cards/{evil}/files/data.npy"),
                ("GET", f"{server.server_uri}/opsml/api/{evil}/cards"),
                ("POST", f"{server.server_uri}/opsml/api/data/cards/{evil}/commit"),
            ]:
                response = http.request(
                    method, httpx.URL(url), content=b"x" if method == "PUT" else None
                )
                assert response.status_code in (404, 405, 409, 422), (
                    method,
                    url,
                    response.status_code,
                )
                assert response.headers["content-type"].startswith("application/json"), (
                    method,
                    url,
                )
                assert "root:" not in response.text
    etc_passwd_copies = list(Path(server.base_path or ".").rglob("passwd"))
    assert etc_passwd_copies == []


REPLICA_WORKER = Path(__file__).parent / "workers" / "register_many.py"


def _start_together(procs: list[subprocess.Popen[str]]) -> None:
    """Wait until every worker is connected, then let all of them start at once."""
    for proc in procs:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            _, err = proc.communicate(timeout=60)
            for other in procs:
                other.kill()
            pytest.fail(f"a worker did not get ready:\n{err}")
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()


@pytest.mark.slow
@pytest.mark.postgres
def test_two_servers_on_one_postgres_give_distinct_versions(
    tmp_path: Path, empty_postgres_url: str
) -> None:
    shared = {
        "OPSML_TRACKING_URI": empty_postgres_url,
        "OPSML_STORAGE_URI": str(tmp_path / "shared"),
    }
    servers = [OpsmlTestServer(base_path=tmp_path / f"server{i}", env=shared) for i in range(2)]
    for srv in servers:
        srv.start_server()
    try:
        procs = []
        for i in range(8):
            env = {**os.environ, "OPSML_TRACKING_URI": servers[i % 2].server_uri}
            env.pop("OPSML_STORAGE_URI", None)
            procs.append(
                subprocess.Popen(
                    [sys.executable, str(REPLICA_WORKER), "25"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env,
                )
            )
        _start_together(procs)
        reported: list[Any] = []
        for proc in procs:
            out, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, err
            reported += [tuple(line.split()) for line in out.splitlines()]
        versions = [v for _, v in reported]
        assert len(reported) == 200
        assert len(set(versions)) == 200
        os.environ["OPSML_TRACKING_URI"] = servers[1].server_uri
        registry = CardRegistry(RegistryType.Data)
        listed = registry.list_cards(space="race", name="same", limit=1000)
        assert {(r.uid, r.version) for r in listed} == set(reported)
        for record in listed:
            card = registry.load_card(uid=record.uid)
            card.load()
            assert card.data.shape == (8,)
    finally:
        for srv in servers:
            srv.stop_server()


def test_a_download_with_stored_tokens_refreshes_them_once_expired(
    auth_server: OpsmlTestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`opsml login`'s stored tokens: a file download (the streaming path) whose access
    token ran out refreshes the pair, stores it, and gets the bytes."""
    registry = CardRegistry(RegistryType.Data)
    card = DataCard(interface=NumpyData(data=np.arange(4)), space="team", name="stored")
    registry.register_card(card)
    pair = httpx.post(
        f"{auth_server.server_uri}/opsml/api/auth/token",
        json={"username": "admin", "password": "s3cret-pw"},
    ).json()
    store = CredentialStore(tmp_path / "credentials.json")
    store.save(
        auth_server.server_uri,
        StoredTokens(_an_hour_later(pair["access_token"]), pair["refresh_token"]),
    )
    api = ApiClient(auth_server.server_uri, credentials=store)
    try:
        with api.stream(f"/opsml/api/data/cards/{card.uid}/files/data.npy") as response:
            assert response.status_code == 200
            body = response.read()
    finally:
        api.close()
    assert body.startswith(b"\x93NUMPY")
    renewed = store.load(auth_server.server_uri)
    assert renewed is not None
    assert renewed.refresh_token != pair["refresh_token"]  # the pair was refreshed and kept
