"""Start test server processes by forking one that has already imported the server.

Most of a test server's start is Python importing FastAPI, SQLAlchemy, uvicorn and opsml
itself (about 0.6 s of CPU). A test suite starts hundreds of servers, so
:class:`~opsml.mock.OpsmlTestServer` asks a *fork server* instead: a process started once per
test process that imports the server's modules (and does nothing else: no thread, no
database, no setting read) and then forks a copy of itself for each server, which sets the
server's environment, working folder and log file and runs ``python -m opsml.server`` in
it. A fork costs a few milliseconds.

The fork server is used on Linux unless
``OPSML_TEST_SERVER_FORK=false``; a server whose environment could change how a module
behaves at import (``PYTHON*``, ``PROMETHEUS_*``, ``OTEL_*`` variables that differ from the
fork server's own) starts as a fresh interpreter, as does every server when the fork server
cannot start.

The forked server is not a child of the test process: :class:`ForkedProcess` gives it the
part of :class:`subprocess.Popen`'s interface the test servers use (``pid``, ``poll``,
``wait``, ``terminate``, ``kill``, ``returncode``); the fork server reaps it and writes its
exit status to a file that ``poll`` reads.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["ForkedProcess", "fork_server_process", "serve_forks"]

FORK_ENV = "OPSML_TEST_SERVER_FORK"
_IMPORT_SENSITIVE = ("PYTHON", "PROMETHEUS_", "prometheus_", "OTEL_")
"""Variables some module reads when it is imported: a server whose values differ from the
fork server's cannot use modules the fork server imported."""
_PRELOAD = (
    "opsml.server.__main__",
    "opsml.server._serve",
    "opsml.server._app",
    "uvicorn.loops.auto",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.websockets.auto",
    "uvicorn.lifespan.on",
)
"""What a server imports before it answers: the fork server imports it once."""
_OPTIONAL_PRELOAD = (
    "uvloop",
    "httptools",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "jinja2",
    "argon2",
    "orjson",
)
_SERVER_MODULE = "opsml.server"
"""The one module the fork server runs (``python -m opsml.server``)."""
_UNKNOWN_EXIT = 255
"""The exit code of a forked process whose status nobody recorded (its fork server ended)."""


def _exit_code(status: int) -> int:
    """A wait status as ``Popen.returncode`` reports it (negative: killed by that signal)."""
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


class ForkedProcess:
    """A server process forked by the fork server, handled like a ``subprocess.Popen``.

    Args:
        pid: The process id.
        status_file: Where the fork server writes the process's exit code once it ended.
        args: The command line it runs (for messages).
    """

    stdout = None

    def __init__(self, pid: int, status_file: Path, args: Sequence[str]) -> None:
        self.pid = pid
        self.args = list(args)
        self.returncode: int | None = None
        self._status_file = status_file

    def poll(self) -> int | None:
        """The exit code once the process has ended, else ``None``."""
        if self.returncode is None:
            code = self._read_status()
            if code is None:
                try:
                    os.kill(self.pid, 0)  # an ended process stays a zombie until reaped
                    return None
                except ProcessLookupError:
                    # Reaped: the fork server writes the status right after, or (if the
                    # fork server is gone) init reaped it and nobody knows its code.
                    deadline = time.monotonic() + 1.0
                    while (code := self._read_status()) is None and time.monotonic() < deadline:
                        time.sleep(0.01)
            self.returncode = _UNKNOWN_EXIT if code is None else code
        return self.returncode

    def _read_status(self) -> int | None:
        try:
            text = self._status_file.read_text()
        except FileNotFoundError:
            return None
        self._status_file.unlink(missing_ok=True)
        return int(text)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to end; its exit code.

        Raises:
            subprocess.TimeoutExpired: It still runs after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.002
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        return code

    def send_signal(self, sig: int) -> None:
        """Send ``sig``, unless the process has already ended."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        """SIGTERM: uvicorn finishes the requests in flight and stops."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL."""
        self.send_signal(signal.SIGKILL)


class _ForkServer:
    """The client side: the fork server process and the socket to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._folder: Path | None = None
        self._env: dict[str, str] = {}
        self._failed = False

    def _start(self) -> socket.socket | None:
        if self._failed:
            return None
        if self._sock is not None and self._process is not None and self._process.poll() is None:
            return self._sock
        self.close()
        self._folder = Path(tempfile.mkdtemp(prefix="opsml-fork-server-"))
        ours, theirs = socket.socketpair()
        self._env = dict(os.environ)
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import sys; from opsml.mock._fork import serve_forks; "
                    "serve_forks(int(sys.argv[1]), sys.argv[2])",
                    str(theirs.fileno()),
                    str(self._folder),
                ],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=self._env,
            )
        finally:
            theirs.close()
        ours.settimeout(120)
        try:
            ready = _read_line(ours)
        except OSError:
            ready = b""
        if ready.strip() != b"ready":
            ours.close()
            self._failed = True  # imports failed there: every server starts on its own
            self.close()
            return None
        self._sock = ours
        return ours

    def spawn(
        self, args: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path
    ) -> ForkedProcess | None:
        """Fork a process that runs ``python -m opsml.server`` with ``args``, ``env`` as its
        whole environment and its output in ``log``; ``None`` when it cannot (the caller
        starts a fresh interpreter then)."""
        with self._lock:
            sock = self._start()
            if sock is None or self._folder is None:
                return None
            if any(
                env.get(name) != self._env.get(name)
                for name in {*env, *self._env}
                if name.startswith(_IMPORT_SENSITIVE)
            ):
                return None
            request = {"args": list(args), "env": dict(env), "cwd": str(cwd), "log": str(log)}
            try:
                sock.sendall(json.dumps(request).encode() + b"\n")
                answer = json.loads(_read_line(sock))
            except (OSError, ValueError):
                self.close()
                return None
            pid = int(answer["pid"])
            return ForkedProcess(pid, self._folder / f"{pid}.exit", ["python", "-m", *args])

    def close(self) -> None:
        """Stop the fork server (servers it forked keep running until they are stopped)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._process is not None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def _read_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the fork server closed the connection")
        data += chunk
    return data


_fork_server = _ForkServer()
atexit.register(_fork_server.close)


def fork_server_process(
    args: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path
) -> ForkedProcess | None:
    """A server process forked from this process's fork server (started on first use), or
    ``None`` when forking is off (``OPSML_TEST_SERVER_FORK=false``), not possible on this
    platform, or not safe for ``env``.

    Args:
        args: Arguments of ``python -m`` (``["opsml.server", "--host", ...]``).
        env: The server's whole environment.
        cwd: Its working folder.
        log: The file its standard output and error are appended to.
    """
    if os.environ.get(FORK_ENV, "true").strip().lower() in ("0", "false", "no", "off"):
        return None
    # Linux only: macOS's system libraries are not safe to use in a forked child (which is
    # why Python's multiprocessing spawns there), and Windows cannot fork.
    if not sys.platform.startswith("linux") or args[:1] != [_SERVER_MODULE]:
        return None
    return _fork_server.spawn(args, env, cwd, log)


# -- the fork server process ------------------------------------------------------------


def serve_forks(fd: int, status_dir: str) -> None:
    """The fork server's main loop, on the socket ``fd``: import the server's modules, say
    ``ready``, then fork one process per request line; ends when the socket closes. A
    forked process's exit code goes to ``<status_dir>/<pid>.exit``."""
    import importlib

    for name in _PRELOAD:
        importlib.import_module(name)
    for name in _OPTIONAL_PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    _warm_up()
    if len(os.listdir("/proc/self/task")) != 1:
        return  # a thread would not survive a fork: the caller starts fresh interpreters
    sock = socket.socket(fileno=fd)
    folder = Path(status_dir)
    waker_r, waker_w = os.pipe()
    os.set_blocking(waker_w, False)
    signal.set_wakeup_fd(waker_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: set[int] = set()
    sock.sendall(b"ready\n")
    buffer = b""
    while True:
        try:
            readable, _, _ = select.select([sock.fileno(), waker_r], [], [])
        except InterruptedError:
            continue
        if waker_r in readable:
            os.read(waker_r, 4096)
        _reap(children, folder)
        if sock.fileno() not in readable:
            continue
        chunk = sock.recv(65536)
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            request: dict[str, Any] = json.loads(line)
            pid = os.fork()
            if pid == 0:
                os.close(waker_r)
                os.close(waker_w)
                sock.close()
                _run_child(request)  # never returns
            children.add(pid)
            sock.sendall(json.dumps({"pid": pid}).encode() + b"\n")


def _warm_up() -> None:
    """Build one server app on a throwaway registry and drop it: the first app a process
    builds costs about 0.1 s more than the next (schemas, templates and statements made on
    first use and kept), which the forked servers then never pay. Any failure only means
    the forked servers pay it themselves."""
    import gc

    from opsml.server._config import ServerConfig
    from opsml.server._serve import server_app

    saved = dict(os.environ)
    folder = Path(tempfile.mkdtemp(prefix="opsml-fork-warm-up-"))
    try:
        # server_app migrates the new database itself (not empty_registry_database: its
        # template would stay behind, with an exit handler every forked server inherits).
        os.environ.update(
            OPSML_TRACKING_URI=f"sqlite:///{(folder / 'opsml.db').as_posix()}",
            OPSML_STORAGE_URI=str(folder / "storage"),
            OPSML_DB_AUTO_MIGRATE="true",
        )
        app = server_app(ServerConfig.from_env())
        del app
        gc.collect()  # the app's store closes its engine when collected
    except Exception:  # warming up is an optimisation only
        pass
    finally:
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(folder, ignore_errors=True)


def _reap(children: set[int], folder: Path) -> None:
    """Collect ended children; write each one's exit code to ``<folder>/<pid>.exit``."""
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        target = folder / f"{pid}.exit"
        temporary = target.with_suffix(".tmp")
        temporary.write_text(str(_exit_code(status)))
        temporary.replace(target)


def _run_child(request: Mapping[str, Any]) -> None:
    """In the forked process: become the server the request describes, then exit."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        args = list(request["args"])
        sys.argv = [f"-m {args[0]}", *args[1:]]
        from opsml.server.__main__ import main

        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        atexit._run_exitfuncs()
    except BaseException:  # whatever it is: the log shows it, and the process exits
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
