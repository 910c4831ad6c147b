"""A 2 GB artifact registered through the server onto each emulated cloud.

The client's memory stays flat (peak RSS under 300 MB), the server reads none of the bytes
(its process reads far less than the file: the parts go to presigned URLs), an upload killed
halfway resumes from the parts already in the bucket, and the download verifies.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsml.mock import OpsmlTestServer
from opsml.settings import CloudConfig
from opsml.storage import ObjectStorage, open_storage

pytestmark = [pytest.mark.slow, pytest.mark.client, pytest.mark.cloud]

WORKER = Path(__file__).parents[1] / "workers" / "big_transfer.py"
SIZE = 2 * 1024**3
BLOCK = 1024 * 1024


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """One 2 GB file (and its SHA-256) shared by the three clouds."""
    path = tmp_path_factory.mktemp("big") / "source.bin"
    digest = hashlib.sha256()
    block = os.urandom(BLOCK)
    with path.open("wb") as fh:
        for i in range(SIZE // BLOCK):
            chunk = block[i % 251 :] + block[: i % 251]
            fh.write(chunk)
            digest.update(chunk)
    yield path, digest.hexdigest()
    path.unlink(missing_ok=True)


def _worker(tmp: Path, *args: str) -> subprocess.Popen[str]:
    (tmp / "worker-tmp").mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp / "worker-tmp")},
    )


def _finish(proc: subprocess.Popen[str]) -> list[str]:
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    return out.splitlines()


def _value(lines: list[str], key: str) -> str:
    return next(line.split()[1] for line in lines if line.startswith(f"{key} "))


def _bytes_read(pid: int) -> int:
    """Bytes the process read through read() calls of any kind (sockets included)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar")


def _stored(storage: ObjectStorage, key: str) -> int:
    _, parts = storage._parts_stored(key, storage.part_size(SIZE), create=False)
    return sum(parts.values())


def test_two_gigabytes_go_straight_to_the_bucket_and_resume(
    source: tuple[Path, str], bucket_uri: str, tmp_path: Path
) -> None:
    path, expected = source
    storage = open_storage(bucket_uri, cloud=CloudConfig.from_env())
    assert isinstance(storage, ObjectStorage)
    upload_key = storage.key("opsml_data_registry/big/file/v0.1.0", "data.bin")
    env = {k: v for k, v in os.environ.items() if k.split("_")[0] in ("AWS", "GOOGLE", "AZURE")}
    env.update(
        {k: v for k, v in os.environ.items() if k.startswith(("STORAGE_EMULATOR", "GCSFS_"))}
    )
    with OpsmlTestServer(
        base_path=tmp_path / "server", env={**env, "OPSML_STORAGE_URI": bucket_uri}
    ) as server:
        assert server._process is not None
        server_pid = server._process.pid
        read_before = _bytes_read(server_pid)

        first = _worker(tmp_path, "register", str(path))
        deadline = time.monotonic() + 600
        while _stored(storage, upload_key) < SIZE // 2:
            assert first.poll() is None, f"worker ended early: {first.communicate()}"
            assert time.monotonic() < deadline, "upload never reached the halfway mark"
            time.sleep(0.2)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=60)

        lines = _finish(_worker(tmp_path, "register", str(path)))
        assert int(_value(lines, "offset")) >= SIZE // 2, "the second run must resume"
        assert int(_value(lines, "maxrss_mb")) < 300
        uid = _value(lines, "uid")

        dest = tmp_path / "download"
        lines = _finish(_worker(tmp_path, "download", uid, str(dest)))
        assert int(_value(lines, "maxrss_mb")) < 300
        server_read = _bytes_read(server_pid) - read_before
        assert server_read < SIZE // 16, f"the server read {server_read} bytes"

    digest = hashlib.sha256()
    with (dest / "data.bin").open("rb") as fh:
        while block := fh.read(16 * BLOCK):
            digest.update(block)
    assert digest.hexdigest() == expected
    assert list(storage.iter_card_prefixes("opsml_data_registry")) == [
        "opsml_data_registry/big/file/v0.1.0"
    ], "the resumed registration keeps the version the first attempt reserved"
    (dest / "data.bin").unlink()
