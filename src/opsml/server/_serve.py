"""Run the server under uvicorn, with deadlines that cut slow clients off.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but waits as long as it
takes for a request head or body that arrives one byte at a time, so a few thousand such
connections hold a server's sockets and memory. :class:`TimeoutHttpToolsProtocol` is
uvicorn's httptools protocol (the C parser llhttp: a fraction of the pure-Python h11's cost
per request) with two deadlines per connection:

- **head**: a request head must be complete ``header_timeout`` seconds after the connection
  opened (its first request) or after the first byte of a later request arrived;
- **body**: while a request body is read, the connection ends when no byte arrived for
  ``body_timeout`` seconds, or when the body arrives slower than ``body_min_rate`` bytes a
  second on average: it has ``body_timeout`` seconds, plus one second for every
  ``body_min_rate`` bytes received. A large upload on a slow link goes on for as long as it
  takes; a client trickling a byte at a time does not. Time the server holds the body up
  itself (the application has not asked for more yet, or the client waits for
  ``100 Continue``) does not count against the client.

A client that misses a deadline gets ``408`` with a JSON error when no response has started,
and the connection is closed. Request heads are limited to 16 KiB (``400`` beyond), as h11
limits them; llhttp alone would collect a header line without end. The protocol hooks into
uvicorn's ``HttpToolsProtocol`` (its parser callbacks) and reads its request cycle's state,
which are not public API: the ``server`` extra pins the uvicorn versions this was checked
against, and ``tests/unit/server/test_serve.py`` fails loudly when an upgrade changes them.

uvicorn runs on uvloop when it is installed (the ``server`` extra installs it where it
exists, not on Windows).

On SIGTERM (or Ctrl-C) a server stops accepting connections, closes its idle ones, and lets
the requests under way finish (uploads included) for up to ``OPSML_SERVER_GRACEFUL_TIMEOUT``
seconds before it exits; with several workers the supervisor passes the signal on to each
and waits for them. The logs are JSON lines or text (:mod:`opsml.server._logging`); several
workers share their metrics through a multiprocess directory made for the run.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState
from uvicorn.supervisors import Multiprocess

from opsml.server._config import ServerConfig
from opsml.server._logging import log_config

__all__ = ["MAX_HEAD_BYTES", "TimeoutHttpToolsProtocol", "UvicornConfig", "run", "server_app"]

_log = logging.getLogger("uvicorn.error")


class UvicornConfig(uvicorn.Config):
    """uvicorn's settings plus the request head and body deadlines.

    With several workers uvicorn pickles this object into each worker process, so the
    deadlines reach every worker.

    Args:
        app: The ASGI app, or an import string (with ``factory=True`` for a factory).
        header_timeout: Seconds allowed for a complete request head.
        body_timeout: Longest gap in seconds without a byte of a request body, and the
            time a body gets before ``body_min_rate`` applies.
        body_min_rate: Slowest average body rate accepted, in bytes per second.
        **kwargs: Passed to :class:`uvicorn.Config`.
    """

    def __init__(
        self,
        app: Any,
        *,
        header_timeout: int,
        body_timeout: int,
        body_min_rate: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.body_min_rate = body_min_rate


class TimeoutHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the request head and body deadlines described
    above, and request heads limited to :data:`MAX_HEAD_BYTES`.

    Args:
        config: The server's settings, with the deadlines.
        server_state: uvicorn's shared server state.
        app_state: The application state copied into each request's scope.
        _loop: The event loop (the running one when omitted).
    """

    def __init__(
        self,
        config: UvicornConfig,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._header_timeout = config.header_timeout
        self._body_timeout = config.body_timeout
        self._body_min_rate = config.body_min_rate
        self._phase: Literal["head", "body"] | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._since = 0.0  # the phase's start (body: since the server last held it up)
        self._received = 0  # body bytes since then
        self._last_byte = 0.0
        self._head_bytes = 0  # bytes received since the head began (it may be incomplete)
        self._head_size = 0  # the head's request target and header lines parsed so far

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the head deadline of the connection's first request."""
        super().connection_made(transport)
        self._enter("head", self._header_timeout)

    def data_received(self, data: bytes) -> None:
        """Parse the bytes (the parser's callbacks move the deadline), then refuse a head
        that grew past the limit without ending."""
        if self._phase is None:
            self._enter("head", self._header_timeout)  # the next request's first byte
        if self._phase == "head":
            self._head_bytes += len(data)
        super().data_received(data)
        if self._phase == "head" and self._head_bytes > MAX_HEAD_BYTES:
            self._leave()
            if not self.transport.is_closing():
                self.send_400_response("Invalid HTTP request received.")

    def on_message_begin(self) -> None:
        """A request starts (a pipelined one may begin in the same bytes as the last)."""
        super().on_message_begin()
        self._head_size = 0
        if self._phase != "head":
            self._enter("head", self._header_timeout)

    def on_url(self, url: bytes) -> None:
        """Count the request target into the head's size."""
        self._grow_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count the header into the head's size (an error here is answered ``400``)."""
        self._grow_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """The head is in: the body deadline runs until the message is complete."""
        super().on_headers_complete()
        self._enter("body", self._body_timeout)

    def on_body(self, body: bytes) -> None:
        """A piece of the body arrived."""
        super().on_body(body)
        self._received += len(body)
        self._last_byte = self.loop.time()

    def on_message_complete(self) -> None:
        """The request is in (or the connection idles): no deadline of ours."""
        super().on_message_complete()
        self._leave()

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the deadline with the connection."""
        self._leave()
        super().connection_lost(exc)

    def _grow_head(self, size: int) -> None:
        self._head_size += size
        if self._head_size > MAX_HEAD_BYTES:
            raise _HeadTooLargeError

    def _enter(self, phase: Literal["head", "body"], seconds: int) -> None:
        self._leave()
        self._phase = phase
        self._since = self._last_byte = self.loop.time()
        self._received = 0
        self._head_bytes = 0
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _leave(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = None

    def _expired(self) -> None:
        self._deadline = None
        if self._phase != "body":
            self._time_out(f"the request head was not complete within {self._header_timeout} s")
            return
        now = self.loop.time()
        if self.flow.read_paused or self.cycle.waiting_for_100_continue:
            self._since = self._last_byte = now  # the server holds the body up, not the client
            self._received = 0
        gap_due = self._last_byte + self._body_timeout
        rate_due = self._since + self._body_timeout + self._received / self._body_min_rate
        if min(gap_due, rate_due) > now:
            self._deadline = self.loop.call_at(min(gap_due, rate_due), self._expired)
        elif gap_due <= now:
            self._time_out(f"no byte of the request body arrived for {self._body_timeout} s")
        else:
            self._time_out(f"the request body arrived slower than {self._body_min_rate} bytes/s")

    def _time_out(self, detail: str) -> None:
        phase, self._phase = self._phase, None
        if self.transport.is_closing():
            return
        peer = f"{self.client[0]}:{self.client[1]} - " if self.client else ""
        _log.info("%sclosing a slow connection: %s", peer, detail)
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            self.transport.write(_response_408(detail))  # no answer under way to cut into
        if phase == "body":  # the application must not answer on a closed connection
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()


MAX_HEAD_BYTES = 16 * 1024
"""The largest request head (request line and headers) accepted; a larger one gets ``400``."""


class _HeadTooLargeError(Exception):
    """A request head over :data:`MAX_HEAD_BYTES` (the parser answers ``400``)."""


def _response_408(detail: str) -> bytes:
    body = json.dumps({"error": "RequestTimeoutError", "detail": detail}).encode()
    head = (
        b"HTTP/1.1 408 Request Timeout\r\n"
        b"content-type: application/json\r\n"
        b"content-length: %d\r\n"
        b"connection: close\r\n\r\n" % len(body)
    )
    return head + body


def _uvicorn_config(
    config: ServerConfig, app: Any, host: str, port: int, workers: int
) -> UvicornConfig:
    return UvicornConfig(
        app,
        factory=isinstance(app, str),
        host=host,
        port=port,
        workers=workers,
        http=TimeoutHttpToolsProtocol,
        ws="none",
        log_level="info",
        log_config=log_config(config.log_format),
        access_log=False,  # the app logs each request itself (opsml.server._observe)
        timeout_graceful_shutdown=config.graceful_timeout_seconds,
        timeout_keep_alive=config.keep_alive_timeout_seconds,
        header_timeout=config.header_timeout_seconds,
        body_timeout=config.body_timeout_seconds,
        body_min_rate=config.body_min_rate,
        proxy_headers=bool(config.forwarded_allow_ips),
        forwarded_allow_ips=list(config.forwarded_allow_ips),
    )


def server_app(config: ServerConfig | None = None) -> Any:
    """The app a server process runs (each worker builds its own from the environment),
    with every object alive at that point moved out of the garbage collector's way
    (``gc.freeze``): a full collection would otherwise walk the hundred thousand objects
    of the loaded libraries, 30 to 100 ms during which no request is answered.

    Args:
        config: The server's settings (read from the environment when omitted).
    """
    from opsml.server._app import create_app

    app = create_app(config if config is not None else ServerConfig.from_env())
    gc.collect()
    gc.freeze()
    return app


def run(config: ServerConfig, host: str, port: int, workers: int = 1) -> None:
    """Serve until interrupted: one process, or ``workers`` processes sharing one socket.

    Args:
        config: The server's settings (the connection deadlines and trusted proxies; with
            one worker, also the app's).
        host: Interface to bind.
        port: Port to listen on.
        workers: Worker processes; each builds its app from the environment.
    """
    try:
        if workers > 1:
            _run_workers(config, host, port, workers)
            return
        server = uvicorn.Server(_uvicorn_config(config, server_app(config), host, port, 1))
        server.run()
    except KeyboardInterrupt:
        return
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _run_workers(config: ServerConfig, host: str, port: int, workers: int) -> None:
    """Several workers on one socket, their metrics in one multiprocess directory (the
    caller's ``PROMETHEUS_MULTIPROC_DIR``, emptied first, or a new one removed at exit)."""
    from opsml.server._observe import MULTIPROC_ENV, prepare_multiprocess_dir

    given = os.environ.get(MULTIPROC_ENV, "").strip()
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="opsml-metrics-"))
    prepare_multiprocess_dir(folder)
    try:
        uv = _uvicorn_config(config, "opsml.server._serve:server_app", host, port, workers)
        Multiprocess(uv, sockets=[uv.bind_socket()]).run()
    finally:
        if not given:
            shutil.rmtree(folder, ignore_errors=True)
