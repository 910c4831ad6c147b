"""A Scouter server stand-in for tests: an HTTP server process that answers the part of
scouter's API that opsml and scouter-ml's clients use, and keeps the drift records it is
sent.

``OpsmlTestServer`` starts one and points ``SCOUTER_SERVER_URI`` at it (as OpsML 3's test
server starts its mock Scouter server), so registering cards with drift profiles, changing a
profile's status and publishing drift records through ``HTTPConfig`` all work in tests.
It runs in its own process: scouter-ml's client holds the GIL while it waits for an answer,
so a server thread in the calling process could never answer it.

Routes (all answer JSON; every ``POST`` and ``PUT`` needs an ``Authorization: Bearer``
header, as scouter's do): ``GET /scouter/healthcheck``, ``GET /scouter/auth/login``
(``{"token": ...}``), ``POST /scouter/profile`` (a ``RegisteredProfileResponse`` naming the
profile's space, name and version), ``PUT /scouter/profile`` and ``PUT
/scouter/profile/status``, ``POST /scouter/drift`` (the body, scouter's ``ServerRecords``,
is appended as one line to the records file, :meth:`MockScouterServer.records`; 422 when it
is not one).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from opsml.errors import ServerUnavailableError
from opsml.mock._process import stop_process

__all__ = ["MockScouterServer"]

_TOKEN = "opsml-mock-scouter-token"
_MAIN = "import sys; from opsml.mock._scouter import main; main(sys.argv[1:])"


def _profile_names(body: dict[str, Any]) -> dict[str, str]:
    try:
        config = json.loads(body["profile"])["config"]
        return {k: str(config[k]) for k in ("space", "name", "version")}
    except (KeyError, TypeError, ValueError):
        return {"space": str(body.get("space", "")), "name": "", "version": ""}


def _handler(records: Path, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, payload: object) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            return json.loads(raw) if raw else None

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/scouter/healthcheck":
                self._send(200, {"alive": True})
            elif path in ("/scouter/auth/login", "/scouter/auth/refresh"):
                self._send(200, {"token": _TOKEN})
            else:
                self._send(404, {"error": f"no route {path}"})

        def _authorized(self) -> bool:
            if self.headers.get("authorization", "").startswith("Bearer "):
                return True
            self._send(401, {"error": "Unauthorized: no bearer token"})
            return False

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            try:
                body = self._body()
            except ValueError:
                self._send(400, {"error": "the body is not JSON"})
                return
            if not self._authorized():
                return
            if path == "/scouter/drift" and not (
                isinstance(body, dict) and isinstance(body.get("records"), list)
            ):
                self._send(422, {"error": "the body is not scouter's ServerRecords"})
            elif path == "/scouter/profile" and isinstance(body, dict):
                names = _profile_names(body)
                self._send(
                    200,
                    {**names, "uid": "mock-profile-uid", "status": "success", "active": False},
                )
            elif path == "/scouter/drift":
                with lock, records.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(body) + "\n")
                self._send(
                    200, {"status": "success", "message": "Drift records queued for processing"}
                )
            else:
                self._send(404, {"error": f"no route {path}"})

        def do_PUT(self) -> None:
            path = self.path.split("?", 1)[0]
            self._body()
            if not self._authorized():
                return
            if path in ("/scouter/profile", "/scouter/profile/status"):
                self._send(200, {"status": "success", "message": "Profile updated"})
            else:
                self._send(404, {"error": f"no route {path}"})

        def log_message(self, format: str, *args: Any) -> None:
            del format, args  # quiet

    return Handler


def serve(port: int, records: Path, fd: int | None = None) -> None:
    """Serve on ``127.0.0.1:port`` (0: a free port), or on the listening socket ``fd`` the
    starting process made, printing ``listening <port>`` first."""
    handler = _handler(records, threading.Lock())
    if fd is None:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    else:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler, bind_and_activate=False)
        server.socket.close()
        server.socket = socket.socket(fileno=fd)
        server.server_address = server.socket.getsockname()
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


class MockScouterServer:
    """Start the stand-in in a child process; ``url`` is its address.

    Args:
        records_file: Where received drift records go (a temporary file when omitted).
        startup_timeout: Kept for compatibility: nothing waits for the process to start
            (its socket listens before it runs).
    """

    def __init__(self, records_file: Path | None = None, startup_timeout: float = 30.0) -> None:
        self._own_file = records_file is None
        if records_file is None:
            handle, name = tempfile.mkstemp(prefix="opsml-scouter-", suffix=".jsonl")
            os.close(handle)
            records_file = Path(name)
        self.records_file = records_file
        del startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        """Start the process. Its listening socket is made here and handed to it, so
        ``url`` is known at once and clients can connect while it still starts (the kernel
        queues their connections until it accepts them).

        Raises:
            ServerUnavailableError: The process could not be started.
        """
        self.records_file.touch()
        listener = socket.create_server(("127.0.0.1", 0))
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable, "-c", _MAIN,
                    "--fd", str(listener.fileno()), "--records", str(self.records_file),
                ],
                pass_fds=[listener.fileno()],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
        except OSError as exc:
            listener.close()
            raise ServerUnavailableError(f"the mock Scouter server did not start: {exc}") from exc
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        listener.close()  # the process has its own copy

    def records(self) -> list[Any]:
        """Every ``POST /scouter/drift`` body received so far (scouter's ``ServerRecords``
        JSON: ``{"records": [{"Psi": {...}}, ...]}``), oldest first."""
        text = self.records_file.read_text(encoding="utf-8") if self.records_file.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def stop(self) -> None:
        """Stop the process (and remove a temporary records file)."""
        if self._process is not None:
            stop_process(self._process)
            self._process = None
        if self._own_file:
            self.records_file.unlink(missing_ok=True)

    def __enter__(self) -> MockScouterServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """The stand-in process: ``[--port N | --fd FD] --records FILE``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fd", type=int, help="a listening socket to serve on")
    parser.add_argument("--records", type=Path, required=True)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):  # interactive use
        serve(args.port, args.records, args.fd)
