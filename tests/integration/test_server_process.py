"""The real product: `opsml server start` in its own process, on the embedded default."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

OPSML = shutil.which("opsml", path=str(Path(sys.executable).parent))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_server_starts_on_the_embedded_default(tmp_path: Path) -> None:
    assert OPSML is not None
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSML_")}
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [OPSML, "server", "start", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                response = httpx.get(f"{base}/opsml/api/healthcheck", timeout=2)
                break
            except httpx.TransportError:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
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
        log.close()
