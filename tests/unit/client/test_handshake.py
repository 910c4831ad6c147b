"""The client checks it talks to an opsml server, and fails in seconds when it does not:
a web server that is not opsml, a URL with a path, a server that never answers, nothing
listening. Each against a real process or socket on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsml import CardRegistry, RegistryType
from opsml.errors import InvalidArgumentError, ServerUnavailableError
from opsml.settings import OpsmlConfig

pytestmark = pytest.mark.needs("fastapi", "uvicorn")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def plain_web_server(tmp_path: Path) -> Iterator[str]:
    """``python -m http.server``: answers every path, but is no opsml server."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and reads requests, never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def test_a_web_server_that_is_not_opsml_is_named_as_such(
    monkeypatch: pytest.MonkeyPatch, plain_web_server: str
) -> None:
    monkeypatch.setenv("OPSML_TRACKING_URI", plain_web_server)
    registry = CardRegistry(RegistryType.Model)
    with pytest.raises(ServerUnavailableError) as caught:
        registry.list_cards()
    message = str(caught.value)
    assert message.startswith(f"{plain_web_server} is not an opsml server: ")
    assert "answered 404 (text/html)" in message
    assert "\n" not in message


def test_a_url_with_a_path_suggests_the_servers_root(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from opsml.mock import OpsmlTestServer

    with OpsmlTestServer(base_path=tmp_path / "server") as server:
        root = server.server_uri.rstrip("/")
        monkeypatch.setenv("OPSML_TRACKING_URI", f"{root}/opsml/api")
        with pytest.raises(ServerUnavailableError) as caught:
            CardRegistry(RegistryType.Model).list_cards()
        assert str(caught.value).endswith(
            "OPSML_TRACKING_URI must be the server's root URL, without the path "
            f"'/opsml/api': {root}"
        )
        # The root itself works, and the handshake reports the server's version.
        monkeypatch.setenv("OPSML_TRACKING_URI", root)
        registry = CardRegistry(RegistryType.Model)
        assert len(registry.list_cards()) == 0
        from opsml._version import __version__

        assert registry.info().server_version == __version__


def test_a_server_that_never_answers_fails_in_seconds(
    monkeypatch: pytest.MonkeyPatch, silent_server: str
) -> None:
    monkeypatch.setenv("OPSML_TRACKING_URI", silent_server)
    monkeypatch.setenv("OPSML_CLIENT_READ_TIMEOUT", "1")
    registry = CardRegistry(RegistryType.Model)
    began = time.monotonic()
    with pytest.raises(ServerUnavailableError, match="accepted no request in time"):
        registry.list_cards()
    # One wait of the read timeout, no retries: not 5 attempts of 120 s as before.
    assert time.monotonic() - began < 10


def test_nothing_listening_stops_at_the_total_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSML_TRACKING_URI", f"http://127.0.0.1:{_free_port()}")
    monkeypatch.setenv("OPSML_CLIENT_RETRIES", "50")
    monkeypatch.setenv("OPSML_CLIENT_TIMEOUT", "2")
    began = time.monotonic()
    with pytest.raises(ServerUnavailableError, match="cannot reach the opsml server"):
        CardRegistry(RegistryType.Model).list_cards()
    assert time.monotonic() - began < 10  # 50 retries would back off for minutes


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OPSML_CLIENT_READ_TIMEOUT", "0"),
        ("OPSML_CLIENT_CONNECT_TIMEOUT", "soon"),
        ("OPSML_CLIENT_TIMEOUT", "-1"),
        ("OPSML_CLIENT_TIMEOUT", "inf"),
    ],
)
def test_bad_timeout_settings_are_refused(name: str, value: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"^{name} must be a positive number"):
        OpsmlConfig.from_env({name: value})
