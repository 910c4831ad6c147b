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
