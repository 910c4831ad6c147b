"""SIGTERM lets an upload under way finish: a registration whose server is restarted in the
middle of a file's upload succeeds (the client commits on the restarted server), and the
stopped server answered the upload before it exited (a rolling restart, one replica)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import httpx
import numpy as np
import pytest

import opsml.client._transfer as transfer
from opsml import CardRegistry, DataCard, RegistryType
from opsml.data import NumpyData

sys.path.insert(0, str(Path(__file__).parent))
from _server_proc import start_server

pytestmark = [pytest.mark.slow, pytest.mark.client]

OPSML = shutil.which("opsml", path=str(Path(sys.executable).parent))


def _start_on(port: int, cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = cwd / "server.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(OPSML), "server", "start", "--workers", "1", "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/opsml/api/readyz", timeout=2).is_success:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(log.read_text(errors="replace")[-2000:])


def test_sigterm_lets_the_upload_in_flight_finish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert OPSML is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSML_")}
    env.update(
        OPSML_TRACKING_URI=f"sqlite:///{tmp_path / 'opsml.db'}",
        OPSML_STORAGE_URI=str(tmp_path / "storage"),
        OPSML_SERVER_ACCESS_LOG="true",
        OPSML_LOG_FORMAT="json",
    )
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    first, base = start_server([str(OPSML), "server", "start", "--workers", "1"], first_dir, env)
    port = int(base.rsplit(":", 1)[1])

    # The client sends its file a piece every 50 ms; the server gets SIGTERM mid-file.
    uploading = threading.Event()
    slow_pieces = transfer._pieces

    def pieces(fh: BinaryIO, offset: int, length: int) -> Iterator[bytes]:
        for piece in slow_pieces(fh, offset, length):
            uploading.set()
            time.sleep(0.05)
            yield piece

    monkeypatch.setattr(transfer, "_pieces", pieces)
    monkeypatch.setenv("OPSML_TRACKING_URI", base)
    monkeypatch.setenv("OPSML_CLIENT_RETRIES", "12")  # about a minute: the restart's time
    monkeypatch.setenv("OPSML_CACHE_MAX_BYTES", "0")
    data = np.arange(2_000_000, dtype=np.float64)  # 16 MB: 16 pieces, under a second
    card = DataCard(interface=NumpyData(data=data), space="ops", name="restart")
    outcome: list[BaseException | None] = []

    def register() -> None:
        try:
            CardRegistry(RegistryType.Data).register_card(card)
            outcome.append(None)
        except BaseException as exc:  # reported below
            outcome.append(exc)

    worker = threading.Thread(target=register)
    worker.start()
    second: subprocess.Popen[bytes] | None = None
    try:
        assert uploading.wait(60), "the upload did not start"
        first.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal once its requests finished: killed by SIGTERM, late.
        assert first.wait(timeout=60) in (0, -signal.SIGTERM)
        log = (first_dir / "server.log").read_text()
        shutdown = log.index("Shutting down")
        upload = '"route": "/opsml/api/{registry}/cards/{uid}/files/{path:path}", "status": 200'
        assert log.index(upload) > shutdown, "the upload was answered after SIGTERM, in full"
        assert "Finished server process" in log
        second = _start_on(port, second_dir, env)
        worker.join(timeout=120)
        assert outcome == [None], outcome
        loaded = CardRegistry(RegistryType.Data).load_card(uid=card.uid)
        loaded.load()
        assert np.array_equal(loaded.interface.data, data)
    finally:
        worker.join(timeout=120)
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=60)
