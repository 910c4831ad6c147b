"""Every route of the app declares what it needs, and enforces it (auth on)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.errors import InvalidArgumentError
from opsml.server import create_app
from opsml.server._authz import Scope, declared_access
from opsml.server._config import ServerConfig
from opsml.settings import OpsmlConfig

PUBLIC = {
    "/opsml/api/healthcheck",
    "/opsml/api/healthz",
    "/opsml/api/readyz",
    "/opsml/api/auth/token",
    "/opsml/api/auth/refresh",
    "/opsml/api/auth/device",
    "/opsml/api/auth/device/token",
    "/opsml/api/openapi.json",
    "/opsml/api/docs",
    "/opsml/api/docs/oauth2-redirect",
}
ROOT = ("root", "root-password-1")


@pytest.fixture
def secret_card(sqlite_registry_env: Path) -> PromptCard:
    card = PromptCard(prompt=Prompt(message="classified"), space="secret", name="plan")
    CardRegistry(RegistryType.Prompt).register_card(card)
    return card


@pytest.fixture
def app(secret_card: PromptCard) -> FastAPI:
    config = ServerConfig(
        opsml=OpsmlConfig.from_env(), auth=True, username=ROOT[0], password=ROOT[1]
    )
    return create_app(config)


@pytest.fixture
def app_client(app: FastAPI) -> TestClient:
    client = TestClient(app, base_url="http://localhost")
    token = _token(client, *ROOT)
    for user, grants in (("nobody", []), ("reader", ["team-a:read"])):
        created = client.post(
            "/opsml/api/users",
            json={"username": user, "password": "password-123", "grants": grants},
            headers=_bearer(token),
        )
        assert created.status_code == 200, created.text
    return client


def _token(client: TestClient, username: str, password: str) -> str:
    response = client.post(
        "/opsml/api/auth/token", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _url(path: str, uid: str) -> str:
    values = {
        "registry": "prompt",
        "uid": uid,
        "path": "card.json",
        "username": "root",
        "token_id": "0123456789abcdef",
        "space": "secret",
        "name": "plan",
        "alias": "prod",
        "webhook_id": "0123456789abcdef0123456789abcdef",
    }
    return re.sub(r"{(\w+)(:path)?}", lambda m: values[m.group(1)], path)


def _api_routes(app: FastAPI) -> list[Any]:
    """Every API route with its path, methods and dependencies (routers included with
    ``include_router`` are expanded)."""
    found: list[Any] = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        found.extend(contexts() if contexts is not None else [route])
    return [
        r
        for r in found
        if isinstance(getattr(r, "methods", None), set | frozenset)
        and getattr(r, "dependant", None) is not None
        and r.path.startswith("/opsml/api")
        and r.path not in PUBLIC
    ]


def test_every_api_route_declares_its_permission(app: FastAPI, app_client: TestClient) -> None:
    routes = _api_routes(app)
    assert len(routes) >= 20
    undeclared = [f"{sorted(r.methods)} {r.path}" for r in routes if declared_access(r) is None]
    assert undeclared == []


def test_no_route_is_reachable_without_the_right_permission(
    app: FastAPI, app_client: TestClient, secret_card: PromptCard
) -> None:
    nobody = _bearer(_token(app_client, "nobody", "password-123"))
    body = {"card": {"space": "secret", "name": "plan"}, "uid": secret_card.uid}
    checked = 0
    for route in _api_routes(app):
        url = _url(route.path, str(secret_card.uid))
        access = declared_access(route)
        assert access is not None
        for method in sorted(route.methods):
            kwargs = {"json": body} if method in ("POST", "PUT") else {}
            anonymous = app_client.request(method, url, **kwargs)
            assert anonymous.status_code == 401, (method, url, anonymous.text)
            if access.scope is Scope.Account:
                continue  # any logged-in user may manage their own account
            denied = app_client.request(method, url, headers=nobody, **kwargs)
            assert denied.status_code == 403, (method, url, denied.status_code, denied.text)
            assert denied.json()["error"] == "PermissionDeniedError"
            checked += 1
    assert checked >= 15


def test_pages_show_only_readable_spaces(app_client: TestClient, secret_card: PromptCard) -> None:
    reader = _token(app_client, "reader", "password-123")
    app_client.cookies.set("opsml_token", reader)
    home = app_client.get("/")
    assert home.status_code == 200
    assert "secret" not in home.text
    page = app_client.get(f"/ui/prompt/{secret_card.uid}")
    assert page.status_code == 403
    assert "classified" not in page.text
    assert "plan" not in app_client.get("/ui/prompt").text
    raw = app_client.get(f"/ui/prompt/{secret_card.uid}/raw/card.json")
    assert raw.status_code == 403


def test_api_lists_only_readable_spaces(app_client: TestClient, secret_card: PromptCard) -> None:
    reader = _bearer(_token(app_client, "reader", "password-123"))
    listed = app_client.get("/opsml/api/prompt/cards", headers=reader)
    assert listed.status_code == 200
    assert listed.json() == []
    by_name = app_client.get("/opsml/api/prompt/card?name=plan", headers=reader)
    assert by_name.status_code == 404  # filtered out, as if it did not exist
    root = _bearer(_token(app_client, *ROOT))
    assert [c["uid"] for c in app_client.get("/opsml/api/prompt/cards", headers=root).json()] == [
        secret_card.uid
    ]


def test_hardening_middleware(app_client: TestClient) -> None:
    rebound = app_client.get("/opsml/api/healthcheck", headers={"host": "evil.example"})
    assert rebound.status_code == 400
    assert rebound.json()["error"] == "InvalidHostError"
    huge = app_client.post("/opsml/api/auth/token", content=b"x" * (17 * 1024 * 1024))
    assert huge.status_code == 413
    assert huge.json()["error"] == "InvalidArgumentError"


def test_production_refuses_insecure_defaults(tmp_path: Path) -> None:
    base = {"OPSML_TRACKING_URI": f"sqlite:///{tmp_path}/x.db", "APP_ENV": "production"}
    with pytest.raises(InvalidArgumentError, match="OPSML_AUTH=true"):
        ServerConfig.from_env(base)
    with pytest.raises(InvalidArgumentError, match="OPSML_DEFAULT_PASSWORD"):
        ServerConfig.from_env({**base, "OPSML_AUTH": "true"})
    with pytest.raises(InvalidArgumentError, match="OPSML_AUTH_SECRET"):
        ServerConfig.from_env({**base, "OPSML_AUTH": "true", "OPSML_DEFAULT_PASSWORD": "x" * 12})
    secure = {
        **base,
        "OPSML_AUTH": "true",
        "OPSML_DEFAULT_PASSWORD": "x" * 12,
        "OPSML_AUTH_SECRET": "a" * 40,
        "OPSML_REFRESH_SECRET": "b" * 40,
    }
    assert ServerConfig.from_env(secure).production
