"""The alias routes guard the space they name: a user holding grants in another space can
neither move, delete nor see its aliases; every move is audited once, a refusal too."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.server import create_app
from opsml.server._config import ServerConfig
from opsml.settings import OpsmlConfig
from opsml.store import ALIAS_SET, AuthStore

ROOT = ("root", "root-password-1")
SECRET = "/opsml/api/prompt/aliases/secret/plan/prod"


@pytest.fixture
def client(sqlite_registry_env: Path) -> TestClient:
    registry = CardRegistry(RegistryType.Prompt)
    for space in ("secret", "secret", "team-a"):
        registry.register_card(PromptCard(prompt=Prompt(message="x"), space=space, name="plan"))
    registry.set_alias("secret", "plan", "prod", "0.1.0")
    registry.set_alias("team-a", "plan", "prod", "0.1.0")
    config = ServerConfig(
        opsml=OpsmlConfig.from_env(), auth=True, username=ROOT[0], password=ROOT[1]
    )
    client = TestClient(create_app(config), base_url="http://localhost")
    root = _login(client, *ROOT)
    grants = {
        "elsewhere": ["team-a:read,write,delete"],  # everything, but in another space
        "reader": ["secret:read"],
    }
    for user, granted in grants.items():
        created = client.post(
            "/opsml/api/users",
            json={"username": user, "password": "password-123", "grants": granted},
            headers=root,
        )
        assert created.status_code == 200, created.text
    return client


def _login(client: TestClient, username: str, password: str) -> dict[str, str]:
    response = client.post(
        "/opsml/api/auth/token", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"authorization": f"Bearer {response.json()['access_token']}"}


def _secret_alias(client: TestClient) -> str:
    listed = client.get(
        "/opsml/api/prompt/aliases?space=secret", headers=_login(client, *ROOT)
    ).json()
    return str(listed[0]["version"])


def test_grants_in_another_space_open_no_alias_route(client: TestClient) -> None:
    other = _login(client, "elsewhere", "password-123")
    moved = client.put(SECRET, json={"version": "0.2.0"}, headers=other)
    assert moved.status_code == 403
    assert moved.json()["error"] == "PermissionDeniedError"
    deleted = client.delete(SECRET, headers=other)
    assert deleted.status_code == 403
    assert client.get("/opsml/api/prompt/aliases?space=secret", headers=other).status_code == 403
    listed = client.get("/opsml/api/prompt/aliases", headers=other).json()
    assert [(a["space"], a["alias"]) for a in listed] == [("team-a", "prod")]
    # nor through an alias in a version query
    found = client.get("/opsml/api/prompt/card?name=plan&version=@prod", headers=other)
    assert found.json()["space"] == "team-a"
    hidden = client.get(
        "/opsml/api/prompt/card?space=secret&name=plan&version=@prod", headers=other
    )
    assert hidden.status_code == 403
    assert _secret_alias(client) == "0.1.0"
    # their own space is theirs
    own = client.put(
        "/opsml/api/prompt/aliases/team-a/plan/prod", json={"version": "0.1.0"}, headers=other
    )
    assert own.status_code == 200, own.text


def test_reading_a_space_does_not_allow_moving_its_aliases(client: TestClient) -> None:
    reader = _login(client, "reader", "password-123")
    listed = client.get("/opsml/api/prompt/aliases?space=secret", headers=reader)
    assert [(a["version"], a["alias"]) for a in listed.json()] == [("0.1.0", "prod")]
    assert client.put(SECRET, json={"version": "0.2.0"}, headers=reader).status_code == 403
    assert client.delete(SECRET, headers=reader).status_code == 403
    assert _secret_alias(client) == "0.1.0"


def test_each_move_is_audited_once_with_its_user(client: TestClient) -> None:
    root = _login(client, *ROOT)
    moved = client.put(SECRET, json={"version": "0.2.0"}, headers=root)
    assert moved.status_code == 200, moved.text
    assert (moved.json()["version"], moved.json()["updated_by"]) == ("0.2.0", "root")
    missing = client.put(SECRET, json={"version": "0.9.0"}, headers=root)
    assert missing.status_code == 404
    partial = client.put(SECRET, json={"version": "0.2"}, headers=root)
    assert partial.status_code == 422
    bad = client.put(
        "/opsml/api/prompt/aliases/secret/plan/1st", json={"version": "0.2.0"}, headers=root
    )
    assert bad.status_code == 422
    denied = client.put(
        SECRET, json={"version": "0.1.0"}, headers=_login(client, "reader", "password-123")
    )
    assert denied.status_code == 403

    store = AuthStore(CardRegistry(RegistryType.Prompt).backend.store)  # type: ignore[attr-defined]
    entries = [e for e in store.audit_entries() if "aliases" in e.resource or "@" in e.resource]
    assert [
        (e.operation, e.username, e.outcome, e.detail) for e in entries if e.operation == ALIAS_SET
    ][:1] == [(ALIAS_SET, "root", "allowed", "0.1.0 -> 0.2.0")]
    requests = [(e.username, e.outcome) for e in entries if e.operation.startswith("PUT")]
    # the move is audited by the store, the failures and the refusal by the middleware
    assert sorted(requests) == [
        ("reader", "denied"),
        ("root", "error"),
        ("root", "error"),
        ("root", "error"),
    ]

    assert client.delete(SECRET, headers=root).status_code == 200
    assert client.get("/opsml/api/prompt/aliases?space=secret", headers=root).json() == []
