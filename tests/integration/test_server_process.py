"""The real product: `opsml server start` in its own process, on the embedded default."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _server_proc import start_server

OPSML = shutil.which("opsml", path=str(Path(sys.executable).parent))


@pytest.mark.slow
def test_server_starts_on_the_embedded_default(tmp_path: Path) -> None:
    assert OPSML is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSML_")}
    proc, base = start_server([OPSML, "server", "start"], tmp_path, env)
    try:
        response = httpx.get(f"{base}/opsml/api/healthcheck", timeout=2)
        assert response.json()["status"] == "ok"
        assert httpx.get(f"{base}/").status_code == 200
        uid = "01900000-0000-7000-8000-000000000000"
        missing = httpx.get(f"{base}/opsml/api/model/cards/{uid}")
        assert missing.status_code == 404
        assert missing.json() == {
            "error": "CardNotFoundError",
            "detail": f"no model card matches uid '{uid}'",
        }
        assert (tmp_path / "opsml.db").exists(), "the embedded default is ./opsml.db"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_workers_default_to_the_cores_and_share_token_secrets(tmp_path: Path) -> None:
    """Without ``--workers`` there is one worker per core; with auth on and no secrets
    configured, a token one worker issued is accepted by every other."""
    from opsml.server import default_workers

    assert OPSML is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSML_")}
    env.update(OPSML_AUTH="true", OPSML_DEFAULT_PASSWORD="first-password-1")
    proc, base = start_server([OPSML, "server", "start"], tmp_path, env)
    try:
        login = httpx.post(
            f"{base}/opsml/api/auth/token",
            json={"username": "admin", "password": "first-password-1"},
            timeout=30,
        )
        assert login.status_code == 200, login.text
        bearer = {"authorization": f"Bearer {login.json()['access_token']}"}
        for _ in range(40):  # a new connection each: the kernel spreads them over workers
            me = httpx.get(f"{base}/opsml/api/auth/me", headers=bearer, timeout=30)
            assert me.status_code == 200, me.text
        started = (tmp_path / "server.log").read_text().count("Started server process")
        assert started == default_workers()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
