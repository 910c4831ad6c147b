"""Liveness, readiness and metrics: what an orchestrator and Prometheus see."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from opsml import CardRegistry, DataCard, Prompt, PromptCard, RegistryType
from opsml.data import NumpyData
from opsml.mock import OpsmlTestServer
from opsml.server import create_app
from opsml.server._config import ServerConfig
from opsml.settings import OpsmlConfig

ROOT = ("root", "root-password-1")


def _client(**settings: object) -> TestClient:
    config = ServerConfig(opsml=OpsmlConfig.from_env(), **settings)  # type: ignore[arg-type]
    return TestClient(create_app(config), base_url="http://localhost")


def test_healthz_and_readyz_answer_on_a_healthy_server(sqlite_registry_env: Path) -> None:
    client = _client()
    assert client.get("/opsml/api/healthz").json()["status"] == "ok"
    ready = client.get("/opsml/api/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "schema": "ok", "storage": "ok"}
    assert ready.json()["failed"] == []
    # The old health check answers as before.
    assert client.get("/opsml/api/healthcheck").json()["status"] == "ok"


def test_probes_answer_whatever_the_host_header(sqlite_registry_env: Path) -> None:
    client = _client(allowed_hosts=("opsml.internal",))
    for path in ("/opsml/api/healthz", "/opsml/api/readyz", "/opsml/api/metrics"):
        assert client.get(path, headers={"host": "10.1.2.3:8000"}).status_code == 200, path
    refused = client.get("/opsml/api/prompt/cards", headers={"host": "10.1.2.3:8000"})
    assert refused.status_code == 400


def test_readyz_names_unreachable_storage(sqlite_registry_env: Path) -> None:
    client = _client()
    sqlite_registry_env.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(sqlite_registry_env)
    sqlite_registry_env.write_text("a file where the storage folder belongs")
    ready = client.get("/opsml/api/readyz")
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["storage"]
    assert ready.json()["checks"]["storage"] == "unreachable"
    assert client.get("/opsml/api/healthz").status_code == 200  # alive: no restart


def test_readyz_names_an_unreachable_database(sqlite_registry_env: Path, tmp_path: Path) -> None:
    client = _client()
    app_state = client.app.state.opsml  # type: ignore[attr-defined]
    app_state.backend.store.engine.dispose()
    (tmp_path / "opsml.db").unlink()
    (tmp_path / "opsml.db").mkdir()  # the database file cannot be opened any more
    ready = client.get("/opsml/api/readyz")
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["database", "schema"]
    assert "sqlite" not in ready.text.lower()  # no driver text for the caller


def test_readyz_reports_a_schema_from_a_later_opsml(
    sqlite_registry_env: Path, sqlite_url: str
) -> None:
    client = _client()
    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE opsml_alembic_version SET version_num = '0099_future'"))
    engine.dispose()
    ready = client.get("/opsml/api/readyz")
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["schema"]
    assert "0099_future: newer than this opsml knows" in ready.json()["checks"]["schema"]


@pytest.fixture
def auth_client(sqlite_registry_env: Path) -> TestClient:
    card = PromptCard(prompt=Prompt(message="hi"), space="team-secret", name="launch-codes")
    CardRegistry(RegistryType.Prompt).register_card(card)
    client = _client(
        auth=True, username=ROOT[0], password=ROOT[1], metrics_token="scrape-token-123456"
    )
    token = _login(client, *ROOT)
    created = client.post(
        "/opsml/api/users",
        json={"username": "reader", "password": "password-123", "grants": ["*:read"]},
        headers={"authorization": f"Bearer {token}"},
    )
    assert created.status_code == 200, created.text
    return client


def _login(client: TestClient, username: str, password: str) -> str:
    response = client.post(
        "/opsml/api/auth/token", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def test_metrics_are_for_admins_and_the_metrics_token(auth_client: TestClient) -> None:
    url = "/opsml/api/metrics"
    assert auth_client.get(url).status_code == 401
    reader = _login(auth_client, "reader", "password-123")
    assert auth_client.get(url, headers={"authorization": f"Bearer {reader}"}).status_code == 403
    wrong = auth_client.get(url, headers={"authorization": "Bearer scrape-token-12345"})
    assert wrong.status_code == 401
    admin = _login(auth_client, *ROOT)
    assert auth_client.get(url, headers={"authorization": f"Bearer {admin}"}).status_code == 200
    scraped = auth_client.get(url, headers={"authorization": "Bearer scrape-token-123456"})
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    # The metrics token opens nothing else.
    cards = auth_client.get(
        "/opsml/api/prompt/cards", headers={"authorization": "Bearer scrape-token-123456"}
    )
    assert cards.status_code == 401


def test_metrics_count_requests_by_route_template_without_user_data(
    auth_client: TestClient,
) -> None:
    admin = {"authorization": f"Bearer {_login(auth_client, *ROOT)}"}
    listed = auth_client.get("/opsml/api/prompt/cards", headers=admin).json()
    uid = listed[0]["uid"]
    assert auth_client.get(f"/opsml/api/prompt/cards/{uid}", headers=admin).status_code == 200
    body = auth_client.get("/opsml/api/metrics", headers=admin).text
    line = (
        'opsml_http_requests_total{method="GET",route="/opsml/api/{registry}/cards/{uid}",'
        'status="200"} 1.0'
    )
    assert line in body
    assert (
        'opsml_http_request_duration_seconds_count{method="GET",route="/opsml/api/{registry}/cards"}'
        in body
    )
    for private in ("team-secret", "launch-codes", uid, "root", "reader"):
        assert private not in body, private


def _total(body: str, prefix: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith(prefix) and "/files/" in line
    )


@pytest.mark.client
def test_registrations_and_bytes_are_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSML_CACHE_MAX_BYTES", "0")  # the load downloads the file
    with OpsmlTestServer(base_path=tmp_path / "server") as server:
        card = DataCard(interface=NumpyData(data=np.zeros(10_000)), space="s", name="counted")
        registry = CardRegistry(RegistryType.Data)
        registry.register_card(card)
        registry.load_card(uid=card.uid).load()
        body = httpx.get(f"{server.server_uri}/opsml/api/metrics").text
    assert 'opsml_registrations_total{registry="data"} 1.0' in body
    assert _total(body, "opsml_http_received_bytes_total{") > 80_000
    assert _total(body, "opsml_http_sent_bytes_total{") > 80_000


def test_metrics_can_be_turned_off(sqlite_registry_env: Path) -> None:
    client = _client(metrics=False)
    assert client.get("/opsml/api/metrics").status_code == 404
    assert client.get("/opsml/api/healthz").status_code == 200
