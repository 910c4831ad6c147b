"""``opsml import mlflow`` given what is not an MLflow store: one line naming the error, exit
status 1, and nothing registered. (Real MLflow stores: tests/integration/test_import_mlflow.py.)
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.cli.main import app

runner = CliRunner()


class _NotMlflow(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = b"<html>a web page</html>"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        del args


@pytest.fixture
def web_page() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotMlflow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_what_is_not_an_mlflow_store_is_refused_in_one_line(
    sqlite_registry_env: Path, sqlite_url: str, tmp_path: Path, web_page: str
) -> None:
    registry = CardRegistry(RegistryType.Prompt)  # an opsml database: not MLflow's
    registry.register_card(PromptCard(prompt=Prompt(message="hi"), space="s", name="n"))
    missing = tmp_path / "missing.db"
    cases = {
        "./mlruns": "InvalidArgumentError: cannot import from MLflow tracking URI './mlruns'",
        "file:///tmp/mlruns": "InvalidArgumentError: cannot import from MLflow tracking URI",
        f"sqlite:///{missing}": "InvalidArgumentError: no MLflow database file at sqlite:///",
        sqlite_url: f"InvalidArgumentError: {sqlite_url} is not an MLflow tracking database: "
        "it has no experiments, runs",
        f"http://127.0.0.1:{_closed_port()}": "ServerUnavailableError: cannot reach the MLflow",
        web_page: f"InvalidArgumentError: {web_page} is not an MLflow tracking server",
    }
    for uri, message in cases.items():
        result = runner.invoke(app, ["import", "mlflow", "--tracking-uri", uri])
        assert result.exit_code == 1, (uri, result.output)
        assert result.stdout == ""
        assert result.stderr.startswith(f"error: {message}"), (uri, result.stderr)
        assert result.stderr.count("\n") == 1
    assert not missing.exists()  # never created by looking

    bad_space = runner.invoke(
        app, ["import", "mlflow", "--tracking-uri", "./mlruns", "--space", "a/b"]
    )
    assert bad_space.stderr.startswith("error: InvalidNameError")
    for registry_type in (RegistryType.Model, RegistryType.Experiment):
        assert len(CardRegistry(registry_type).list_cards()) == 0
