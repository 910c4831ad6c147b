"""The webhook routes: admins only, validated input, secrets never answered."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.server import create_app
from opsml.server._config import ServerConfig
from opsml.settings import OpsmlConfig

ROOT = ("root", "root-password-1")
HOOK = {"url": "http://127.0.0.1:9/hook", "secret": "s" * 20, "events": ["card.registered"]}


def _login(client: TestClient, username: str, password: str) -> dict[str, str]:
    response = client.post(
        "/opsml/api/auth/token", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def client(sqlite_registry_env: Path) -> TestClient:
    config = ServerConfig(
        opsml=OpsmlConfig.from_env(), auth=True, username=ROOT[0], password=ROOT[1]
    )
    client = TestClient(create_app(config), base_url="http://localhost")
    created = client.post(
        "/opsml/api/users",
        json={"username": "writer", "password": "password-123", "grants": ["*:read,write,delete"]},
        headers=_login(client, *ROOT),
    )
    assert created.status_code == 200, created.text
    return client


def test_only_admins_manage_webhooks(client: TestClient) -> None:
    writer = _login(client, "writer", "password-123")
    assert client.post("/opsml/api/webhooks", json=HOOK, headers=writer).status_code == 403
    assert client.get("/opsml/api/webhooks", headers=writer).status_code == 403
    root = _login(client, *ROOT)
    hook = client.post("/opsml/api/webhooks", json=HOOK, headers=root)
    assert hook.status_code == 200, hook.text
    assert "secret" not in hook.json()
    assert hook.json()["created_by"] == "root"
    hook_id = hook.json()["id"]
    deliveries = f"/opsml/api/webhooks/{hook_id}/deliveries"
    assert client.get(deliveries, headers=writer).status_code == 403
    assert client.delete(f"/opsml/api/webhooks/{hook_id}", headers=writer).status_code == 403

    CardRegistry(RegistryType.Prompt).register_card(
        PromptCard(prompt=Prompt(message="x"), space="s", name="n")
    )
    (queued,) = client.get(deliveries, headers=root).json()
    assert (queued["event"], queued["status"], queued["attempts"]) == (
        "card.registered",
        "pending",
        [],
    )
    listed = client.get("/opsml/api/webhooks", headers=root).json()
    assert [(h["id"], h["url"]) for h in listed] == [(hook_id, HOOK["url"])]
    assert client.delete(f"/opsml/api/webhooks/{hook_id}", headers=root).status_code == 200
    assert client.get(deliveries, headers=root).status_code == 404


@pytest.mark.parametrize(
    "change",
    [
        {"url": "ftp://example.com/x"},
        {"url": "http://user:pw@example.com/x"},
        {"url": "not a url"},
        {"secret": "short"},
        {"events": []},
        {"events": ["card.exploded"]},
    ],
)
def test_bad_webhooks_are_refused(client: TestClient, change: dict[str, object]) -> None:
    response = client.post(
        "/opsml/api/webhooks", json={**HOOK, **change}, headers=_login(client, *ROOT)
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "InvalidArgumentError"
