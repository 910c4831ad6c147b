"""Logged-in UI clients: an admin, and users who may read only space ``team-a``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from opsml.server import create_app
from opsml.server._config import ServerConfig
from opsml.settings import OpsmlConfig

ADMIN = ("ada", "lovelace-1815")


def login(username: str) -> TestClient:
    """A client of a new app (auth on) logged in as ``username``: the admin ``ada``, or a
    user created with the single grant ``team-a:read``."""
    config = ServerConfig(
        opsml=OpsmlConfig.from_env(), auth=True, username=ADMIN[0], password=ADMIN[1]
    )
    client = TestClient(
        create_app(config), base_url="http://localhost", headers={"origin": "http://localhost"}
    )
    password = ADMIN[1] if username == ADMIN[0] else "team-a-reader-1"
    if username != ADMIN[0]:
        token = client.post(
            "/opsml/api/auth/token", json={"username": ADMIN[0], "password": ADMIN[1]}
        ).json()["access_token"]
        created = client.post(
            "/opsml/api/users",
            json={"username": username, "password": password, "grants": ["team-a:read"]},
            headers={"authorization": f"Bearer {token}"},
        )
        assert created.status_code in (200, 201), created.text
    response = client.post(
        "/ui/login",
        data={"username": username, "password": password, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    return client


@pytest.fixture
def ui_login() -> Callable[[str], TestClient]:
    """:func:`login`, for tests that need a user holding grants in one space only."""
    return login
