"""Users, permissions per space, API tokens, the audit log and login throttling, against a
real server process, through the Python client as a user would run it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from opsml import CardRegistry, DataCard, NumpyData, Prompt, PromptCard, RegistryType
from opsml.errors import AuthenticationError, CardNotFoundError, PermissionDeniedError
from opsml.mock import OpsmlTestServer

pytestmark = pytest.mark.client

ADMIN = ("admin", "admin-s3cret-pw")
ENV = {
    "OPSML_AUTH": "true",
    "OPSML_DEFAULT_USERNAME": ADMIN[0],
    "OPSML_DEFAULT_PASSWORD": ADMIN[1],
    "OPSML_LOGIN_ATTEMPTS": "5",
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[OpsmlTestServer]:
    with OpsmlTestServer(base_path=tmp_path / "server", env=ENV) as srv:
        yield srv


def _login(base: str, username: str, password: str) -> dict[str, str]:
    response = httpx.post(
        f"{base}/opsml/api/auth/token", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"authorization": f"Bearer {response.json()['access_token']}"}


def _as(monkeypatch: pytest.MonkeyPatch, username: str, password: str) -> None:
    """Act as another user (registries read the credentials when they are created)."""
    monkeypatch.setenv("OPSML_USERNAME", username)
    monkeypatch.setenv("OPSML_PASSWORD", password)
    monkeypatch.delenv("OPSML_API_TOKEN", raising=False)


def _prompt(space: str, name: str = "p") -> PromptCard:
    return PromptCard(prompt=Prompt(message=f"for {space}"), space=space, name=name)


def test_permissions_per_space(server: OpsmlTestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    base = server.server_uri
    admin = _login(base, *ADMIN)
    for user, grants in (
        ("reader", ["team-a:read"]),
        ("writer", ["team-a:read,write"]),
    ):
        created = httpx.post(
            f"{base}/opsml/api/users",
            json={"username": user, "password": "password-123", "grants": grants},
            headers=admin,
        )
        assert created.status_code == 200, created.text
    a_card, b_card = _prompt("team-a"), _prompt("team-b")
    CardRegistry(RegistryType.Prompt).register_card(a_card)  # as admin
    CardRegistry(RegistryType.Prompt).register_card(b_card)
    b_data = DataCard(interface=NumpyData(data=np.arange(3)), space="team-b", name="d")
    CardRegistry(RegistryType.Data).register_card(b_data)

    _as(monkeypatch, "reader", "password-123")
    prompts = CardRegistry(RegistryType.Prompt)
    assert [c.uid for c in prompts.list_cards()] == [a_card.uid]  # team-b is invisible
    assert prompts.load_card(uid=a_card.uid).prompt.message[0].content == "for team-a"
    with pytest.raises(PermissionDeniedError, match="read permission in space 'team-b'"):
        prompts.list_cards(space="team-b")
    with pytest.raises(CardNotFoundError):  # unreadable cards are invisible to queries
        prompts.load_card(uid=b_card.uid)
    with pytest.raises(PermissionDeniedError):
        prompts.update_card(b_card)
    with pytest.raises(PermissionDeniedError):
        prompts.delete_card(b_card)
    with pytest.raises(PermissionDeniedError, match="write permission in space 'team-a'"):
        prompts.register_card(_prompt("team-a", "new"))
    reader = _login(base, "reader", "password-123")
    for url in (  # no transfer URLs for another space's files either
        f"{base}/opsml/api/data/cards/{b_data.uid}/downloads",
        f"{base}/opsml/api/data/cards/{b_data.uid}/files/data.npy",
    ):
        assert httpx.get(url, headers=reader).status_code == 403

    _as(monkeypatch, "writer", "password-123")
    prompts = CardRegistry(RegistryType.Prompt)
    mine = _prompt("team-a", "mine")
    prompts.register_card(mine)
    with pytest.raises(PermissionDeniedError, match="delete permission"):
        prompts.delete_card(mine)
    assert len(prompts.list_cards(name="mine")) == 1

    audit = httpx.get(f"{base}/opsml/api/audit?limit=200", headers=admin).json()
    denied = [e for e in audit if e["outcome"] == "denied"]
    assert {e["username"] for e in denied} >= {"reader", "writer"}
    assert all(e["client_address"] == "127.0.0.1" for e in audit)
    writes = [e for e in audit if e["outcome"] == "allowed" and e["username"] == "writer"]
    assert any("reserve" in e["operation"] for e in writes)
    assert httpx.get(f"{base}/opsml/api/audit", headers=reader).status_code == 403


def test_api_tokens_work_until_revoked(
    server: OpsmlTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = server.server_uri
    admin = _login(base, *ADMIN)
    created = httpx.post(
        f"{base}/opsml/api/auth/api-tokens", json={"name": "nightly CI"}, headers=admin
    ).json()
    monkeypatch.delenv("OPSML_USERNAME")
    monkeypatch.delenv("OPSML_PASSWORD")
    monkeypatch.setenv("OPSML_API_TOKEN", created["token"])
    registry = CardRegistry(RegistryType.Prompt)
    registry.register_card(_prompt("ci"))
    revoked = httpx.delete(f"{base}/opsml/api/auth/api-tokens/{created['token_id']}", headers=admin)
    assert revoked.status_code == 200
    with pytest.raises(AuthenticationError, match="revoked"):
        registry.list_cards()  # the very next request, same client


def test_refresh_rotation_and_login_throttling(server: OpsmlTestServer) -> None:
    base = server.server_uri
    pair = httpx.post(
        f"{base}/opsml/api/auth/token", json={"username": ADMIN[0], "password": ADMIN[1]}
    ).json()
    renewed = httpx.post(
        f"{base}/opsml/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert renewed.status_code == 200
    replay = httpx.post(
        f"{base}/opsml/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert replay.status_code == 401
    assert "already used" in replay.json()["detail"]

    for _ in range(5):
        wrong = httpx.post(
            f"{base}/opsml/api/auth/token", json={"username": ADMIN[0], "password": "nope"}
        )
        assert wrong.status_code == 401
    throttled = httpx.post(
        f"{base}/opsml/api/auth/token", json={"username": ADMIN[0], "password": ADMIN[1]}
    )
    assert throttled.status_code == 429
    assert throttled.json()["error"] == "RateLimitError"
    started = time.monotonic()
    me = httpx.get(
        f"{base}/opsml/api/auth/me",
        headers={"authorization": f"Bearer {renewed.json()['access_token']}"},
    )
    assert me.json()["username"] == ADMIN[0]  # tokens already issued keep working
    assert time.monotonic() - started < 5


def test_no_secrets_in_logs_audit_or_errors(server: OpsmlTestServer) -> None:
    base = server.server_uri
    pair = httpx.post(
        f"{base}/opsml/api/auth/token", json={"username": ADMIN[0], "password": ADMIN[1]}
    ).json()
    admin = {"authorization": f"Bearer {pair['access_token']}"}
    api_token = httpx.post(
        f"{base}/opsml/api/auth/api-tokens", json={"name": "ci"}, headers=admin
    ).json()["token"]
    wrong = httpx.post(
        f"{base}/opsml/api/auth/token", json={"username": ADMIN[0], "password": "guess-me-123"}
    )
    assert "guess-me-123" not in wrong.text
    forged = httpx.get(f"{base}/opsml/api/auth/me", headers={"authorization": "Bearer x.y.z"})
    assert "x.y.z" not in forged.text
    audit = httpx.get(f"{base}/opsml/api/audit?limit=1000", headers=admin).text
    log = (Path(str(server.base_path)) / "server.log").read_text(errors="replace")
    for secret in (
        ADMIN[1],
        "guess-me-123",
        pair["access_token"],
        pair["refresh_token"],
        api_token,
    ):
        assert secret not in audit
        assert secret not in log
