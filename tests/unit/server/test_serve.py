"""The server's connection deadlines, on uvicorn running in this process with a tiny app.

Real sockets and uvicorn's real protocol machinery; each test checks what a client sees (a
``408`` and a closed connection, or its answer). The deadlines are 1 s; no test asserts how
long anything took.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import select
import socket
import threading
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import uvicorn
from packaging.requirements import Requirement
from uvicorn.protocols.http import flow_control, httptools_impl
from uvicorn.supervisors import Multiprocess

from opsml.server._serve import MAX_HEAD_BYTES, TimeoutHttpToolsProtocol, UvicornConfig

ROOT = Path(__file__).resolve().parents[3]
HEAD = b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n"


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Echo the body's length; ``/late`` waits 2.5 s before reading, ``/stall`` after the
    first piece (both longer than the 1 s body deadline)."""
    assert scope["type"] == "http"
    if scope["path"] == "/late":
        await asyncio.sleep(2.5)
    size, more, first = 0, True, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
        if scope["path"] == "/stall" and first:
            await asyncio.sleep(2.5)
        first = False
    body = json.dumps({"received": size}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


@contextmanager
def _serving(keep_alive: int = 5, header_timeout: int = 1) -> Iterator[int]:
    config = UvicornConfig(
        _app,
        host="127.0.0.1",
        port=0,
        http=TimeoutHttpToolsProtocol,
        ws="none",
        lifespan="off",
        log_config=None,
        timeout_keep_alive=keep_alive,
        header_timeout=header_timeout,
        body_timeout=1,
        body_min_rate=500,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "uvicorn did not start"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(30)


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def _read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _responses(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    """Status and JSON body of each response in ``data`` (bodies carry Content-Length)."""
    found = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        size = int(headers["content-length"])
        found.append((int(lines[0].split()[1]), json.loads(rest[:size])))
        data = rest[size:]
    return found


def _read_response(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    data = b""
    while True:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection; got {data!r}"
        data += chunk
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep and b"content-length" in head.lower():
            size = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            if len(rest) >= size:
                return _responses(data)[0]


def test_uvicorn_internals_we_hook_into_are_there() -> None:
    """The protocol overrides these hooks and reads this state; an upgrade that changes them
    must fail here, not in production. The pinned range is in pyproject's server extra."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    server_extra = pyproject["project"]["optional-dependencies"]["server"]
    pin = next(Requirement(r) for r in server_extra if r.startswith("uvicorn"))
    assert pin.specifier.contains(version("uvicorn")), (
        f"uvicorn {version('uvicorn')} is outside {pin}: check opsml/server/_serve.py "
        "against its HttpToolsProtocol and Multiprocess, then move the pin"
    )
    hooks = (
        "connection_made",
        "data_received",
        "on_message_begin",
        "on_url",
        "on_header",
        "on_headers_complete",
        "on_body",
        "on_message_complete",
        "connection_lost",
        "send_400_response",
    )
    for hook in hooks:
        assert hook in vars(httptools_impl.HttpToolsProtocol), f"HttpToolsProtocol.{hook} is gone"
    assert list(inspect.signature(Multiprocess).parameters) == ["config", "sockets"]
    cycle = inspect.getsource(httptools_impl.RequestResponseCycle.__init__)
    states = (
        "disconnected",
        "waiting_for_100_continue",
        "message_event",
        "response_started",
        "response_complete",
    )
    for state in states:
        assert f"self.{state} =" in cycle, f"RequestResponseCycle.{state} is gone"
    assert "self.read_paused =" in inspect.getsource(flow_control.FlowControl.__init__)


def test_a_head_that_never_completes_gets_408() -> None:
    with _serving() as port, _connect(port) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        answer = _responses(_read_until_closed(sock))
    assert answer == [
        (
            408,
            {
                "error": "RequestTimeoutError",
                "detail": "the request head was not complete within 1 s",
            },
        )
    ]


def test_a_body_that_stops_gets_408() -> None:
    with _serving() as port, _connect(port) as sock:
        sock.sendall(HEAD % 100 + b"\r\n" + b"x" * 10)
        answer = _responses(_read_until_closed(sock))
    assert answer == [
        (
            408,
            {
                "error": "RequestTimeoutError",
                "detail": "no byte of the request body arrived for 1 s",
            },
        )
    ]


def test_a_body_trickled_below_the_minimum_rate_is_cut_off() -> None:
    """One byte every 0.2 s never leaves a 1 s gap, but 5 bytes/s is under 500 bytes/s."""
    with _serving() as port, _connect(port) as sock:
        sock.sendall(HEAD % 1000 + b"\r\n")
        sent = 0
        while sent < 1000 and not select.select([sock], [], [], 0.2)[0]:
            sock.sendall(b"x")
            sent += 1
        answer = _responses(_read_until_closed(sock))
    assert sent < 1000, "the server waited for the whole trickled body"
    assert answer == [
        (
            408,
            {
                "error": "RequestTimeoutError",
                "detail": "the request body arrived slower than 500 bytes/s",
            },
        )
    ]


def test_a_slow_but_steady_body_is_not_cut_off() -> None:
    """2 KiB every 0.2 s for 3 s: three times the body timeout, never a 1 s gap."""
    with _serving() as port, _connect(port) as sock:
        sock.sendall(HEAD % (15 * 2048) + b"\r\n")
        for _ in range(15):
            time.sleep(0.2)
            sock.sendall(b"x" * 2048)
        assert _read_response(sock) == (200, {"received": 15 * 2048})


def test_a_client_waiting_for_100_continue_is_not_blamed() -> None:
    """The app asks for the body 2.5 s in; until then the client rightly sends nothing."""
    with _serving() as port, _connect(port) as sock:
        sock.sendall(
            b"POST /late HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 "), interim
        sock.sendall(b"hello")
        assert _read_response(sock) == (200, {"received": 5})


def test_time_the_server_stops_reading_is_not_blamed_on_the_client() -> None:
    """The app stalls 2.5 s after the first piece of a 4 MiB body: uvicorn stops reading
    (flow control) and the client, blocked, cannot send; it is not cut off."""
    size = 4 * 1024 * 1024
    with _serving() as port, _connect(port) as sock:
        sock.sendall(
            b"POST /stall HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % size
        )
        sock.sendall(b"x" * size)
        assert _read_response(sock) == (200, {"received": size})


def test_a_kept_alive_connection_gets_a_new_head_deadline_per_request() -> None:
    """Idle 1.5 s between requests (under the 5 s keep-alive), then a prompt request head:
    the head deadline counts from that request's first byte, not from the last response."""
    with _serving(keep_alive=5) as port, _connect(port) as sock:
        sock.sendall(HEAD % 2 + b"\r\nab")
        assert _read_response(sock) == (200, {"received": 2})
        time.sleep(1.5)
        sock.sendall(HEAD % 3 + b"\r\nabc")
        assert _read_response(sock) == (200, {"received": 3})


def test_an_idle_kept_alive_connection_is_closed() -> None:
    with _serving(keep_alive=1) as port, _connect(port) as sock:
        sock.sendall(HEAD % 2 + b"\r\nab")
        assert _read_response(sock) == (200, {"received": 2})
        assert _read_until_closed(sock) == b"", "closed without another answer"


def test_a_pipelined_head_left_unfinished_gets_408_after_the_first_answer() -> None:
    with _serving() as port, _connect(port) as sock:
        sock.sendall(HEAD % 2 + b"\r\nab" + b"GET /echo HTTP/1.1\r\nHost: 127.")
        answers = _responses(_read_until_closed(sock))
    assert [status for status, _ in answers] == [200, 408]
    assert answers[0][1] == {"received": 2}
    assert answers[1][1]["detail"] == "the request head was not complete within 1 s"


def test_many_slow_heads_do_not_stop_a_prompt_request() -> None:
    with _serving() as port:
        slow = [_connect(port) for _ in range(50)]
        for sock in slow:
            sock.sendall(b"GET /echo HT")
        with _connect(port) as prompt:
            prompt.sendall(HEAD % 2 + b"\r\nab")
            assert _read_response(prompt) == (200, {"received": 2})
        answers = [_responses(_read_until_closed(sock)) for sock in slow]
        for sock in slow:
            sock.close()
    assert {status for answer in answers for status, _ in answer} == {408}
    assert all(len(answer) == 1 for answer in answers)


def test_a_head_over_16_kib_gets_400() -> None:
    """Whether it arrives at once or keeps growing without ending."""
    big = b"x-padding: " + b"y" * MAX_HEAD_BYTES + b"\r\n"
    with _serving() as port, _connect(port) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n" + big + b"\r\n")
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:100]
    # A header timeout far above the trickle's duration on a loaded machine: the size limit,
    # not the clock, must end this request (with 1 s a busy CI answered 408 by chance).
    with _serving(header_timeout=60) as port, _connect(port) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nx-padding: ")
        sent = 0
        while sent <= 2 * MAX_HEAD_BYTES and not select.select([sock], [], [], 0.05)[0]:
            sock.sendall(b"y" * 1024)
            sent += 1024
        answer = _read_until_closed(sock)
    assert sent <= 2 * MAX_HEAD_BYTES, "the server read an endless header line"
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:100]
    with _serving() as port, _connect(port) as sock:  # just under the limit: answered
        fits = b"x-padding: " + b"y" * (MAX_HEAD_BYTES // 2) + b"\r\n"
        sock.sendall(HEAD % 2 + fits + b"\r\nab")
        assert _read_response(sock) == (200, {"received": 2})


def test_settings_from_the_environment() -> None:
    from opsml.server._config import ServerConfig

    base = {"OPSML_TRACKING_URI": "sqlite:///:memory:"}
    default = ServerConfig.from_env(base)
    assert (default.header_timeout_seconds, default.body_timeout_seconds) == (20, 60)
    assert (default.body_min_rate, default.keep_alive_timeout_seconds) == (500, 30)
    assert default.forwarded_allow_ips == ()  # no proxy trusted unless configured
    assert not default.access_log  # one line per request only when asked for
    assert ServerConfig.from_env({**base, "OPSML_SERVER_ACCESS_LOG": "true"}).access_log
    config = ServerConfig.from_env(
        {
            **base,
            "OPSML_SERVER_HEADER_TIMEOUT": "5",
            "OPSML_SERVER_BODY_TIMEOUT": "6",
            "OPSML_SERVER_BODY_MIN_RATE": "7",
            "OPSML_SERVER_KEEP_ALIVE_TIMEOUT": "8",
            "OPSML_FORWARDED_ALLOW_IPS": " 10.0.0.5, 192.168.0.0/16 ,fd00::/8",
        }
    )
    assert (config.header_timeout_seconds, config.body_timeout_seconds) == (5, 6)
    assert (config.body_min_rate, config.keep_alive_timeout_seconds) == (7, 8)
    assert config.forwarded_allow_ips == ("10.0.0.5", "192.168.0.0/16", "fd00::/8")
    anyone = ServerConfig.from_env({**base, "OPSML_FORWARDED_ALLOW_IPS": "*"})
    assert anyone.forwarded_allow_ips == ("*",)
