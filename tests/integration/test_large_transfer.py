"""A 2 GB file through the server: flat memory on both sides, and resume after a kill."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from opsml.mock import OpsmlTestServer

pytestmark = [pytest.mark.slow, pytest.mark.client]

WORKER = Path(__file__).parent / "workers" / "big_transfer.py"
SIZE = 2 * 1024**3
BLOCK = 1024 * 1024


def _make_source(path: Path) -> str:
    digest = hashlib.sha256()
    block = os.urandom(BLOCK)
    with path.open("wb") as fh:
        for i in range(SIZE // BLOCK):
            chunk = block[i % 251 :] + block[: i % 251]
            fh.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def _worker(tmp: Path, *args: str) -> subprocess.Popen[str]:
    # A killed worker cannot remove its temporary folders: keep them in the test's folder.
    (tmp / "worker-tmp").mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp / "worker-tmp")},
    )


def _kill_when(proc: subprocess.Popen[str], condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, (
            f"worker ended before it could be interrupted: {proc.communicate()}"
        )
        assert time.monotonic() < deadline, "transfer never reached the halfway mark"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)


def _size_of(paths: Callable[[], list[Path]]) -> int:
    total = 0
    for path in paths():
        try:
            total += path.stat().st_size
        except FileNotFoundError:
            continue
    return total


def _finish(proc: subprocess.Popen[str]) -> list[str]:
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    return out.splitlines()


def _value(lines: list[str], key: str) -> str:
    return next(line.split()[1] for line in lines if line.startswith(f"{key} "))


def _server_peak_rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def big_tmp(tmp_path: Path) -> Iterator[Path]:
    """The test's folder, emptied afterwards (it holds several 2 GB files)."""
    yield tmp_path
    for child in tmp_path.iterdir():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def test_two_gigabytes_upload_and_download_resume_with_flat_memory(big_tmp: Path) -> None:
    tmp_path = big_tmp
    source = tmp_path / "source.bin"
    expected = _make_source(source)
    with OpsmlTestServer(base_path=tmp_path / "server") as server:
        uploads = tmp_path / "server" / "opsml_registries" / ".uploads"

        first = _worker(tmp_path, "register", str(source))
        _kill_when(first, lambda: _size_of(lambda: list(uploads.rglob("*.part"))) >= SIZE // 2, 600)

        second = _worker(tmp_path, "register", str(source))
        lines = _finish(second)
        assert int(_value(lines, "offset")) >= SIZE // 2, "the second run must resume, not restart"
        assert int(_value(lines, "maxrss_mb")) < 300
        uid = _value(lines, "uid")

        dest = tmp_path / "download"
        part = dest / ".data.bin.part"
        third = _worker(tmp_path, "download", uid, str(dest))
        _kill_when(third, lambda: _size_of(lambda: [part]) >= SIZE // 2, 600)
        resumed_from = part.stat().st_size

        fourth = _worker(tmp_path, "download", uid, str(dest))
        lines = _finish(fourth)
        assert int(_value(lines, "maxrss_mb")) < 300
        assert resumed_from >= SIZE // 2
        assert server._process is not None
        assert _server_peak_rss_mb(server._process.pid) < 300
        log = (tmp_path / "server" / "server.log").read_text()
        assert " 206 " in log, "the second download must resume with a Range request"

    digest = hashlib.sha256()
    with (dest / "data.bin").open("rb") as fh:
        while block := fh.read(16 * BLOCK):
            digest.update(block)
    assert digest.hexdigest() == expected
    assert not part.exists()
