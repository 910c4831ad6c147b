"""Two replicas behind HAProxy on one PostgreSQL and the S3 emulator: 8 client processes
register and load cards for 60 s while one replica is killed with SIGKILL and restarted,
then both are restarted in turn with SIGTERM (a rolling restart). No card is lost or
doubled, no client call fails (the clients retry), and the load balancer's readiness checks
report the dead replica until it is back.

HAProxy comes from the distribution (``scripts/install-haproxy.sh``); the test starts its own
process with its own configuration.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent / "cloud"))
from _emulators import Emulator, free_port, start_s3

pytestmark = [pytest.mark.slow, pytest.mark.client, pytest.mark.postgres]

OPSML = shutil.which("opsml", path=str(Path(sys.executable).parent))
HAPROXY = shutil.which("haproxy")
CLIENT = Path(__file__).parent / "workers" / "lb_client.py"
CLIENTS = 8
SECONDS = 60.0


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[Emulator]:
    emulator = start_s3(tmp_path / "s3")
    try:
        emulator.make_bucket("opsml-lb")
        yield emulator
    finally:
        emulator.stop()


def _replica(port: int, folder: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    folder.mkdir(exist_ok=True)
    with (folder / "server.log").open("ab") as log:
        proc = subprocess.Popen(
            [str(OPSML), "server", "start", "--workers", "1", "--port", str(port)],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, (folder / "server.log").read_text()[-2000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/opsml/api/readyz", timeout=2).is_success:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError((folder / "server.log").read_text()[-2000:])


def _haproxy(folder: Path, port: int, stats: int, replicas: list[int]) -> subprocess.Popen[bytes]:
    servers = "\n".join(
        f"  server r{n} 127.0.0.1:{p} check inter 500 fall 1 rise 2"
        for n, p in enumerate(replicas, 1)
    )
    config = folder / "haproxy.cfg"
    config.write_text(
        f"""global
  maxconn 2000
defaults
  mode http
  timeout connect 2s
  timeout client 180s
  timeout server 180s
  retries 3
  option redispatch
frontend opsml
  bind 127.0.0.1:{port}
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk GET /opsml/api/readyz
  http-check expect status 200
{servers}
listen stats
  bind 127.0.0.1:{stats}
  stats enable
  stats uri /stats
"""
    )
    with (folder / "haproxy.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(HAPROXY), "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/opsml/api/healthcheck", timeout=2).is_success:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError((folder / "haproxy.log").read_text())


def _states(stats: int) -> dict[str, str]:
    """The load balancer's view of each replica (``UP``, ``DOWN``, …)."""
    body = httpx.get(f"http://127.0.0.1:{stats}/stats;csv", timeout=5).text.lstrip("# ")
    rows = csv.DictReader(io.StringIO(body))
    return {r["svname"]: r["status"] for r in rows if r["pxname"] == "replicas"}


def _wait_for(stats: int, replica: str, status: str, seen: list[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = _states(stats)[replica]
        seen.append(state)
        if state.startswith(status):
            return
        time.sleep(0.2)
    raise AssertionError(f"{replica} never became {status}: {seen[-5:]}")


def test_replica_killed_and_rolling_restart_under_load_lose_nothing(
    empty_postgres_url: str, s3: Emulator, tmp_path: Path
) -> None:
    if HAPROXY is None:
        message = "haproxy is not installed (scripts/install-haproxy.sh)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    assert OPSML is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSML_")}
    env.update(
        s3.env,
        OPSML_TRACKING_URI=empty_postgres_url,
        OPSML_STORAGE_URI="s3://opsml-lb/registry",
        OPSML_GC_INTERVAL="0",
        OPSML_LOG_FORMAT="json",
    )
    ports = [free_port(), free_port()]
    folders = [tmp_path / "r1", tmp_path / "r2"]
    replicas = [_replica(p, f, env) for p, f in zip(ports, folders, strict=True)]
    lb, stats = free_port(), free_port()
    haproxy = _haproxy(tmp_path, lb, stats, ports)
    clients: list[subprocess.Popen[bytes]] = []
    try:
        client_env = {k: v for k, v in os.environ.items() if not k.startswith("OPSML_")}
        client_env.update(
            OPSML_TRACKING_URI=f"http://127.0.0.1:{lb}",
            OPSML_CLIENT_RETRIES="10",
            OPSML_CLIENT_TIMEOUT="180",
            OPSML_CACHE_MAX_BYTES="0",
        )
        started = time.time()
        stop = tmp_path / "stop"
        for n in range(CLIENTS):
            client_env["OPSML_CACHE_DIR"] = str(tmp_path / f"cache-{n}")
            clients.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(CLIENT),
                        str(n),
                        str(tmp_path / f"client-{n}.jsonl"),
                        str(stop),
                    ],
                    env=dict(client_env),
                )
            )
        time.sleep(max(0.0, started + SECONDS / 6 - time.time()))
        replicas[0].send_signal(signal.SIGKILL)
        replicas[0].wait(timeout=30)
        seen: list[str] = []
        _wait_for(stats, "r1", "DOWN", seen)
        assert _states(stats)["r2"].startswith("UP")
        time.sleep(max(0.0, started + SECONDS / 3 - time.time()))
        assert _states(stats)["r1"].startswith("DOWN")  # dead all along
        replicas[0] = _replica(ports[0], folders[0], env)
        _wait_for(stats, "r1", "UP", seen)
        # A rolling restart while the clients go on: SIGTERM each replica in turn (its
        # requests under way finish), start it again, wait until it is back in rotation.
        for n in (1, 0):
            replicas[n].send_signal(signal.SIGTERM)
            assert replicas[n].wait(timeout=90) in (0, -signal.SIGTERM)
            _wait_for(stats, f"r{n + 1}", "DOWN", [])
            replicas[n] = _replica(ports[n], folders[n], env)
            _wait_for(stats, f"r{n + 1}", "UP", [])
        rolled = time.time()
        time.sleep(max(0.0, started + SECONDS - time.time()))
        stop.touch()  # after at least SECONDS, and after the restarts
        for proc in clients:
            assert proc.wait(timeout=600) == 0
    finally:
        for proc in clients:
            if proc.poll() is None:
                proc.kill()
        haproxy.terminate()
        haproxy.wait(timeout=30)
        for proc in replicas:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)

    records = [
        json.loads(line)
        for n in range(CLIENTS)
        for line in (tmp_path / f"client-{n}.jsonl").read_text().splitlines()
    ]
    errors = [r for r in records if "error" in r]
    assert errors == [], errors[:3]
    assert len(records) >= CLIENTS  # every client finished at least one round
    print(
        f"{len(records)} registrations and loads; load balancer saw r1 as {sorted(set(seen))};"
        f" rolling restart done {rolled - started:.0f} s after the clients started"
    )
    engine = create_engine(empty_postgres_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT uid, name, version, status FROM opsml_data_registry WHERE space = 'lb'")
        ).all()
    engine.dispose()
    stored = {(r.uid, r.name, r.version) for r in rows if r.status == "ok"}
    registered = {(r["uid"], r["name"], r["version"]) for r in records}
    assert stored == registered  # none lost, none extra
    assert len(rows) == len(records)  # none doubled, nothing left pending
    # Versions of each name are consecutive: no version was allocated twice or skipped.
    for n in range(CLIENTS):
        versions = sorted(
            int(v.split(".")[1]) for _, name, v in registered if name == f"client-{n}"
        )
        assert versions == list(range(1, len(versions) + 1))
