"""OpsmlTestServer brings a Scouter stand-in, as OpsML 3's test server does: profiles are
registered with it, status changes succeed, and an HTTPConfig() queue publishes to it."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from tests.unit.app.conftest import installed_service, psi_counts, register_service

from opsml.app import AppState
from opsml.cli import ScouterArgs, update_drift_profile_status
from opsml.mock import OpsmlTestServer
from opsml.scouter import HTTPConfig
from opsml.scouter.queue import Features
from opsml.scouter.types import DriftType


def test_the_test_server_brings_a_scouter_stand_in(tmp_path: Path) -> None:
    base = tmp_path / "project"
    base.mkdir()
    (base / "pyproject.toml").write_text('[tool.opsml.default]\nspace = "shop"\n')
    with OpsmlTestServer(base_path=base) as server:
        assert server.scouter_server is not None
        uri = os.environ["SCOUTER_SERVER_URI"]
        assert uri == server.scouter_server.url
        assert httpx.get(f"{uri}/scouter/healthcheck").json() == {"alive": True}
        assert os.environ["OPSML_BASE_PATH"] == str(base)
        service = register_service()  # its drift profiles are registered with the stand-in
        update_drift_profile_status(
            ScouterArgs(
                space="shop", name="model", version="0.1.0", drift_type=DriftType.Psi, active=True
            )
        )
        app = AppState.from_path(
            installed_service(tmp_path, service), transport_config=HTTPConfig()
        )
        for _ in range(10):
            app.queue["psi"].insert(Features({"col_0": 0.1, "col_1": 0.2}))
        app.shutdown()
        assert psi_counts(server.scouter_server.records()) == {"col_0": 10, "col_1": 10}
    assert "SCOUTER_SERVER_URI" not in os.environ
    assert "OPSML_BASE_PATH" not in os.environ
    assert sorted(p.name for p in base.iterdir()) == ["pyproject.toml"]  # server files removed


def test_the_stand_in_refuses_what_scouter_would() -> None:
    from opsml.mock import MockScouterServer

    with MockScouterServer() as scouter:
        token = httpx.get(f"{scouter.url}/scouter/auth/login").json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert httpx.post(f"{scouter.url}/scouter/drift", json={"records": []}).status_code == 401
        refused = httpx.post(f"{scouter.url}/scouter/drift", json=[1, 2], headers=bearer)
        assert refused.status_code == 422
        assert httpx.post(
            f"{scouter.url}/scouter/drift", json={"records": [{"Custom": {}}]}, headers=bearer
        ).is_success
        assert scouter.records() == [{"records": [{"Custom": {}}]}]
