"""The card page's "Used by": the cards referencing this one, and only those of spaces the
viewer may read (a user of team-a never learns of team-b's model through it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opsml import Card, CardRegistry, Prompt, PromptCard, RegistryType, ServiceCard
from opsml.server import create_app
from opsml.server._config import ServerConfig
from opsml.settings import OpsmlConfig


@pytest.fixture
def prompt_and_services(sqlite_registry_env: Path) -> str:
    prompt = PromptCard(prompt=Prompt(message="hi"), space="team-a", name="greeting")
    CardRegistry(RegistryType.Prompt).register_card(prompt)
    for space in ("team-a", "team-b"):
        CardRegistry(RegistryType.Service).register_card(
            ServiceCard(space=space, name="api", cards=[Card("hi", card=prompt)])
        )
    return str(prompt.uid)


def _client(username: str, password: str) -> TestClient:
    config = ServerConfig(
        opsml=OpsmlConfig.from_env(), auth=True, username="ada", password="lovelace-1815"
    )
    client = TestClient(
        create_app(config), base_url="http://localhost", headers={"origin": "http://localhost"}
    )
    if username != "ada":
        token = client.post(
            "/opsml/api/auth/token", json={"username": "ada", "password": "lovelace-1815"}
        ).json()["access_token"]
        created = client.post(
            "/opsml/api/users",
            json={"username": username, "password": password, "grants": ["team-a:read"]},
            headers={"authorization": f"Bearer {token}"},
        )
        assert created.status_code in (200, 201), created.text
    login = client.post(
        "/ui/login",
        data={"username": username, "password": password, "next": "/"},
        follow_redirects=False,
    )
    assert login.status_code == 303
    return client


def test_used_by_names_only_readable_cards(prompt_and_services: str) -> None:
    admin = _client("ada", "lovelace-1815")
    page = admin.get(f"/ui/prompt/{prompt_and_services}").text
    assert "<h3>Used by</h3>" in page
    assert "team-a/api" in page
    assert "team-b/api" in page

    reader = _client("bob", "team-a-reader-1")
    page = reader.get(f"/ui/prompt/{prompt_and_services}").text
    assert "team-a/api" in page
    assert "team-b" not in page
