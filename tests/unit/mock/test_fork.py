"""OpsmlTestServer's fork server: servers forked from a process that imported the server
once behave as fresh ones (their own environment, log and exit code), and the test server
falls back to a fresh interpreter where forking is off or not safe."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from opsml.errors import ServerUnavailableError
from opsml.mock import OpsmlTestServer
from opsml.mock._fork import ForkedProcess, _fork_server

pytestmark = [pytest.mark.client, pytest.mark.needs("fastapi", "uvicorn")]


def _health(server: OpsmlTestServer) -> int:
    return httpx.get(f"{server.server_uri}/opsml/api/healthcheck", timeout=5).status_code


def test_forked_servers_take_their_own_environment(tmp_path: Path) -> None:
    open_server = OpsmlTestServer(base_path=tmp_path / "open")
    locked = OpsmlTestServer(
        base_path=tmp_path / "locked",
        env={
            "OPSML_AUTH": "true",
            "OPSML_DEFAULT_USERNAME": "admin",
            "OPSML_DEFAULT_PASSWORD": "a long admin password",
        },
    )
    open_server.start_server()
    locked.start_server()
    try:
        for server in (open_server, locked):
            assert isinstance(server._process, ForkedProcess)
            assert _health(server) == 200
        assert open_server._process.pid != locked._process.pid  # type: ignore[union-attr]
        cards = "/opsml/api/data/cards"
        assert httpx.get(open_server.server_uri + cards).status_code == 200
        assert httpx.get(locked.server_uri + cards).status_code == 401, "auth is the locked one's"
        log = (tmp_path / "locked" / "server.log").read_text()
        assert "GET /opsml/api/data/cards" in log, "each server logs to its own file"
        assert "GET /opsml/api/data/cards" in (tmp_path / "open" / "server.log").read_text()
        assert (tmp_path / "open" / "opsml.db").is_file(), "each has its own database"
    finally:
        open_server.stop_server()
        locked.stop_server()


def test_exit_codes_are_reported_as_popen_reports_them(tmp_path: Path) -> None:
    server = OpsmlTestServer(base_path=tmp_path / "a")
    server.start_server()
    try:
        process = server._process
        assert isinstance(process, ForkedProcess)
        assert process.poll() is None
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=0.05)
        process.terminate()
        # uvicorn shuts down, then ends by the signal it caught, as a fresh process does
        assert process.wait(timeout=15) == -signal.SIGTERM
        assert process.poll() == -signal.SIGTERM
    finally:
        server.stop_server()  # a process that has ended is not signalled again

    server.start_server()
    try:
        process = server._process
        assert isinstance(process, ForkedProcess)
        process.kill()
        assert process.wait(timeout=15) == -signal.SIGKILL
    finally:
        server.stop_server()


def test_a_server_that_fails_to_start_says_why(tmp_path: Path) -> None:
    server = OpsmlTestServer(base_path=tmp_path / "bad", env={"OPSML_SERVER_BODY_TIMEOUT": "soon"})
    with pytest.raises(ServerUnavailableError, match="OPSML_SERVER_BODY_TIMEOUT"):
        server.start_server()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("OPSML_TEST_SERVER_FORK", "false"), ("PROMETHEUS_MULTIPROC_DIR", "")],
)
def test_fresh_interpreter_when_forking_is_off_or_unsafe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    env: dict[str, str] = {}
    if variable == "OPSML_TEST_SERVER_FORK":
        monkeypatch.setenv(variable, value)
    else:
        # read by prometheus-client when it is imported: the fork server's copy would not know
        (tmp_path / "metrics").mkdir()
        env[variable] = str(tmp_path / "metrics")
    with OpsmlTestServer(base_path=tmp_path / "s", env=env) as server:
        assert isinstance(server._process, subprocess.Popen)
        assert _health(server) == 200


def test_a_dead_fork_server_is_started_again(tmp_path: Path) -> None:
    with OpsmlTestServer(base_path=tmp_path / "first"):
        pass
    assert _fork_server._process is not None
    os.kill(_fork_server._process.pid, signal.SIGKILL)
    _fork_server._process.wait()
    with OpsmlTestServer(base_path=tmp_path / "second") as server:
        assert isinstance(server._process, ForkedProcess)
        assert _health(server) == 200
