"""Start ``opsml server start`` as its own process on a port the kernel picks (``--port
0``), and learn the port from the server's log: no other process can take the port between
choosing and binding it, and no health check can reach another test's server."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx

_RUNNING = re.compile(rb"Uvicorn running on http://[^:\s]+:(\d+)")


def start_server(
    command: list[str], cwd: Path, env: dict[str, str], timeout: float = 60.0
) -> tuple[subprocess.Popen[bytes], str]:
    """Run ``command + ["--port", "0"]`` with its output in ``cwd/server.log`` until it
    answers its health check; returns the process and its base URL."""
    log = cwd / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--port", "0"], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + timeout
    port = 0
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        if not port:
            found = _RUNNING.search(log.read_bytes())
            port = int(found.group(1)) if found else 0
        if port:
            base = f"http://127.0.0.1:{port}"
            try:
                if httpx.get(f"{base}/opsml/api/healthcheck", timeout=2).is_success:
                    return proc, base
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"the server did not start:\n{log.read_text(errors='replace')[-2000:]}")
