"""OpsmlTestServer: a real opsml server process on a free loopback port, for tests."""

from __future__ import annotations

import atexit
import http.client
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

from opsml.errors import ServerUnavailableError
from opsml.mock._fork import ForkedProcess, fork_server_process
from opsml.mock._process import restore_env, stop_process
from opsml.mock._scouter import MockScouterServer

__all__ = ["OpsmlServerContext", "OpsmlTestServer"]

_CLIENT_VARS = ("OPSML_TRACKING_URI", "OPSML_STORAGE_URI", "OPSML_USERNAME", "OPSML_PASSWORD")
_SET_VARS = ("OPSML_BASE_PATH", "SCOUTER_SERVER_URI")
"""Variables set for the client only when there is something to point them at."""
_SERVER_FILES = ("opsml.db", "opsml.db-shm", "opsml.db-wal", "opsml.db.migrate.lock", "server.log")


_RUNNING = re.compile(rb"Uvicorn running on http://127\.0\.0\.1:(\d+)")

_template_lock = threading.Lock()
_template: Path | None = None


def empty_registry_database(path: Path) -> None:
    """Put an empty registry database, at the newest schema, at ``path`` (a SQLite file
    that does not exist yet): a copy of one migrated once per process, so a test server
    (or a test) does not run every migration again on every start."""
    global _template
    with _template_lock:
        if _template is None or not _template.is_file():
            from opsml.store import SqlStore

            folder = Path(tempfile.mkdtemp(prefix="opsml-empty-registry-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            made = folder / "opsml.db"
            SqlStore.from_url(f"sqlite:///{made.as_posix()}").close()
            _template = made
        # SQLite's backup API: a consistent copy whatever is still in the template's WAL.
        source = sqlite3.connect(_template)
        target = sqlite3.connect(path)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()


def _bound_port(log: Path) -> int:
    """The port the server reports it listens on (0 until it does).

    The server is started on port 0, so the kernel picks a free port when it binds: no other
    process can take the port between choosing and binding it, and no health check can reach
    another server that happened to take it.
    """
    found = _RUNNING.search(log.read_bytes())
    return int(found.group(1)) if found else 0


def _healthy(port: int) -> bool:
    """The server on ``port`` answers its health check (plain ``http.client``: an httpx
    client per check would build a TLS context each time, 20 ms of CPU)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/opsml/api/healthcheck")
        return 200 <= connection.getresponse().status < 300
    except OSError:
        return False
    finally:
        connection.close()


class OpsmlTestServer:
    """Start ``python -m opsml.server`` with a temporary SQLite database and storage folder,
    and point this process's ``OPSML_TRACKING_URI`` at it. The server logs every request
    (its access log, ``OPSML_SERVER_ACCESS_LOG``) to ``server.log`` in its folder.

    Use it as a context manager; on exit the server stops, the client variables are
    restored and (with ``cleanup=True``) the server's database, storage and log are removed.

    The server process is forked from a process that imported the server's modules once
    per test process (:mod:`opsml.mock._fork`; ``OPSML_TEST_SERVER_FORK=false`` starts a
    fresh interpreter instead), so a suite can start one per test.

    As OpsML 3's test server does, it also starts a Scouter stand-in
    (:class:`~opsml.mock.MockScouterServer`, ``scouter_server``) and points
    ``SCOUTER_SERVER_URI`` at it, for this process and the server's: drift profiles of
    registered cards are registered with it, profile status changes succeed, and an
    ``HTTPConfig()`` queue publishes to it. While the server runs, ``OPSML_BASE_PATH`` is
    ``base_path``, so the ``[tool.opsml]`` card defaults of a ``pyproject.toml`` there apply.

    Args:
        cleanup: Remove the server's database, storage and log when it stops (``base_path``
            itself and any other file in it stay).
        base_path: Folder to keep the server's files in (a new temporary folder if omitted).
        env: Extra environment variables for the server process (e.g. ``OPSML_AUTH``; a
            ``SCOUTER_SERVER_URI`` here replaces the stand-in).
        startup_timeout: Seconds to wait for the health check.
        mock_scouter: Start the Scouter stand-in.
    """

    def __init__(
        self,
        cleanup: bool = True,
        base_path: Path | None = None,
        env: dict[str, str] | None = None,
        startup_timeout: float = 60.0,
        mock_scouter: bool = True,
    ) -> None:
        self._cleanup = cleanup
        self._given_path = base_path
        self.base_path: Path | None = None
        self._env = dict(env or {})
        self._timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | ForkedProcess | None = None
        self._saved: dict[str, str | None] = {}
        self.port = 0
        self._mock_scouter = mock_scouter and "SCOUTER_SERVER_URI" not in self._env
        self.scouter_server: MockScouterServer | None = None

    @property
    def server_uri(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def start_server(self) -> None:
        """Start the server and wait until it answers its health check.

        Raises:
            ServerUnavailableError: The server did not come up in time.
        """
        self.base_path = self._given_path or Path(tempfile.mkdtemp(prefix="opsml-server-"))
        self.base_path.mkdir(parents=True, exist_ok=True)
        self.port = 0
        env = {k: v for k, v in os.environ.items() if k not in _CLIENT_VARS}
        if self._mock_scouter:
            self.scouter_server = MockScouterServer(self.base_path / "scouter-records.jsonl")
            self.scouter_server.start()
            env["SCOUTER_SERVER_URI"] = self.scouter_server.url
        env.update(
            OPSML_TRACKING_URI=f"sqlite:///{(self.base_path / 'opsml.db').as_posix()}",
            OPSML_STORAGE_URI=str(self.base_path / "opsml_registries"),
            OPSML_SERVER_ACCESS_LOG="true",
            OPSML_LOG_FORMAT="text",  # server.log is for people to read
        )
        env.update(self._env)
        database = self.base_path / "opsml.db"
        if "OPSML_TRACKING_URI" not in self._env and not database.exists():
            empty_registry_database(database)
        args = ["opsml.server", "--host", "127.0.0.1", "--port", "0"]
        (self.base_path / "server.log").write_bytes(b"")
        self._process = fork_server_process(args, env, Path.cwd(), self.base_path / "server.log")
        if self._process is None:
            with (self.base_path / "server.log").open("wb") as log:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", *args], env=env, stdout=log, stderr=subprocess.STDOUT
                )
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            self.port = self.port or _bound_port(self.base_path / "server.log")
            if self.port and _healthy(self.port):
                return
            time.sleep(0.01)
        output = (self.base_path / "server.log").read_text(errors="replace")[-2000:]
        self.stop_server()
        raise ServerUnavailableError(f"the opsml test server did not start:\n{output}")

    def stop_server(self) -> None:
        """Stop the server process (and remove its files with ``cleanup=True``)."""
        from opsml.registry import close_backends

        close_backends(self.server_uri)
        if self._process is not None:
            stop_process(self._process, timeout=15)
            self._process = None
        if self.scouter_server is not None:
            self.scouter_server.stop()
            self.scouter_server = None
        if not self._cleanup or self.base_path is None:
            return
        if self._given_path is None:
            shutil.rmtree(self.base_path, ignore_errors=True)
            return
        shutil.rmtree(self.base_path / "opsml_registries", ignore_errors=True)
        for name in (*_SERVER_FILES, "scouter-records.jsonl"):
            (self.base_path / name).unlink(missing_ok=True)

    def set_env_vars_for_client(self) -> None:
        """Point ``OPSML_TRACKING_URI`` at this server (remembering the old values)."""
        self._saved = {var: os.environ.get(var) for var in (*_CLIENT_VARS, *_SET_VARS)}
        for var in _CLIENT_VARS:
            os.environ.pop(var, None)
        os.environ["OPSML_TRACKING_URI"] = self.server_uri
        if self._given_path is not None:
            os.environ["OPSML_BASE_PATH"] = str(self._given_path)
        if self.scouter_server is not None:
            os.environ["SCOUTER_SERVER_URI"] = self.scouter_server.url
        if "OPSML_DEFAULT_USERNAME" in self._env:
            os.environ["OPSML_USERNAME"] = self._env["OPSML_DEFAULT_USERNAME"]
            os.environ["OPSML_PASSWORD"] = self._env.get("OPSML_DEFAULT_PASSWORD", "")

    def remove_env_vars_for_client(self) -> None:
        """Restore the variables :meth:`set_env_vars_for_client` changed."""
        restore_env(self._saved)
        self._saved = {}

    def __enter__(self) -> OpsmlTestServer:
        self.start_server()
        self.set_env_vars_for_client()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove_env_vars_for_client()
        self.stop_server()

    @staticmethod
    def cleanup() -> None:
        """Close this process's client connections (kept for OpsML compatibility)."""
        from opsml.registry import close_backends

        close_backends()


class OpsmlServerContext:
    """Scope for client-mode code: on exit, cached client connections are closed.

    ``server_uri`` is the ``OPSML_TRACKING_URI`` in effect.
    """

    def __enter__(self) -> OpsmlServerContext:
        return self

    def __exit__(self, *exc: object) -> None:
        OpsmlTestServer.cleanup()

    @property
    def server_uri(self) -> str:
        """The tracking URI clients use now."""
        return os.environ.get("OPSML_TRACKING_URI", "")
