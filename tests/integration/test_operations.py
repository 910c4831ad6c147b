"""Running the server for a company, with real processes: several workers report one set
of metrics, every request is one JSON log line without secrets, and replicas run the
scheduled gc once between them."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from opsml import CardRegistry, Prompt, PromptCard, RegistryType

sys.path.insert(0, str(Path(__file__).parent))
from _server_proc import start_server

pytestmark = [pytest.mark.slow, pytest.mark.client]

OPSML = shutil.which("opsml", path=str(Path(sys.executable).parent))
HANG = Path(__file__).parent / "workers" / "hang_during_registration.py"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSML_")}
    env.update(
        OPSML_TRACKING_URI=f"sqlite:///{tmp_path / 'opsml.db'}",
        OPSML_STORAGE_URI=str(tmp_path / "storage"),
        **extra,
    )
    return env


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def _metric(body: str, line_start: str) -> float:
    found = [ln for ln in body.splitlines() if ln.startswith(line_start)]
    assert len(found) == 1, (line_start, found)
    return float(found[0].rsplit(" ", 1)[1])


def test_workers_share_metrics_and_log_json_lines_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert OPSML is not None
    password = "a-long-admin-password-1"
    secret = "signing-secret-0123456789abcdef-0123456789"
    env = _env(
        tmp_path,
        OPSML_AUTH="true",
        OPSML_DEFAULT_PASSWORD=password,
        OPSML_AUTH_SECRET=secret,
        OPSML_REFRESH_SECRET=secret + "-refresh",
        OPSML_METRICS_TOKEN="metrics-token-0123456789",
        OPSML_SERVER_ACCESS_LOG="true",
        OPSML_LOG_FORMAT="json",
    )
    proc, base = start_server([OPSML, "server", "start", "--workers", "2"], tmp_path, env)
    try:
        for n in range(20):  # a new connection each: the kernel spreads them over workers
            assert (
                httpx.get(
                    f"{base}/opsml/api/healthz", headers={"x-request-id": f"probe-{n:04d}"}
                ).status_code
                == 200
            )
        monkeypatch.setenv("OPSML_TRACKING_URI", base)
        monkeypatch.setenv("OPSML_USERNAME", "admin")
        monkeypatch.setenv("OPSML_PASSWORD", password)
        card = PromptCard(prompt=Prompt(message="hi"), space="team", name="secret-name")
        CardRegistry(RegistryType.Prompt).register_card(card)
        wrong = httpx.post(
            f"{base}/opsml/api/auth/token",
            json={"username": "admin", "password": "wrong-password-123"},
        )
        assert wrong.status_code == 401
        login = httpx.post(
            f"{base}/opsml/api/auth/token", json={"username": "admin", "password": password}
        ).json()
        token = login["access_token"]
        api_token = httpx.post(
            f"{base}/opsml/api/auth/api-tokens",
            json={"name": "ci"},
            headers={"authorization": f"Bearer {token}"},
        )
        assert api_token.status_code == 200, api_token.text
        totals = set()
        for _ in range(6):  # whichever worker answers, the counts are the server's
            scraped = httpx.get(
                f"{base}/opsml/api/metrics",
                headers={"authorization": "Bearer metrics-token-0123456789"},
            )
            assert scraped.status_code == 200
            totals.add(
                _metric(
                    scraped.text,
                    'opsml_http_requests_total{method="GET",route="/opsml/api/healthz",status="200"}',
                )
            )
        assert totals == {20.0}
        assert _metric(scraped.text, 'opsml_registrations_total{registry="prompt"}') == 1.0
        assert 'opsml_db_pool_connections{state="idle"}' in scraped.text
        assert "secret-name" not in scraped.text
    finally:
        _stop(proc)
    log = (tmp_path / "server.log").read_text()
    requests = []
    for line in log.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)  # every line from the server is JSON
            if entry["logger"] == "opsml.server.requests":
                requests.append(entry)
    probes = [r for r in requests if r["route"] == "/opsml/api/healthz"]
    assert sorted(r["request_id"] for r in probes) == [f"probe-{n:04d}" for n in range(20)]
    reserves = [r for r in requests if r["route"] == "/opsml/api/{registry}/cards/reserve"]
    assert [(r["status"], r["user"]) for r in reserves] == [(401, None), (200, "admin")]
    reserve = reserves[-1]
    assert reserve["duration_ms"] > 0
    for leaked in (password, "wrong-password-123", secret, token, login["refresh_token"]):
        assert leaked not in log
    assert api_token.json()["token"] not in log
    assert all("secret-name" not in r["route"] for r in requests)  # templates only
    assert any('cards/reserve HTTP/1.1" 200 OK' in r["message"] for r in requests)


def test_replicas_run_the_scheduled_gc_once(tmp_path: Path) -> None:
    assert OPSML is not None
    env = _env(tmp_path, OPSML_GC_INTERVAL="1", OPSML_LOG_FORMAT="json")
    # A registration killed after its record was reserved: a pending record and files.
    hang = subprocess.Popen(
        [sys.executable, str(HANG), "commit"], env=env, stdout=subprocess.PIPE, text=True
    )
    assert hang.stdout is not None
    assert hang.stdout.readline().strip() == "ready"
    hang.send_signal(signal.SIGKILL)
    hang.wait(timeout=30)
    hang.stdout.close()
    replicas = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        replicas.append(
            (folder, *start_server([OPSML, "server", "start", "--workers", "1"], folder, env))
        )
    try:
        deadline = time.monotonic() + 60
        logs = ""
        while time.monotonic() < deadline:
            logs = "".join((f / "server.log").read_text() for f, _, _ in replicas)
            if logs.count('"message": "gc removed') >= 4:
                break
            time.sleep(0.5)
        runs = [
            json.loads(line)
            for line in logs.splitlines()
            if line.startswith("{") and '"message": "gc removed' in line
        ]
        assert len(runs) >= 4, logs[-3000:]
        removed = [r for r in runs if r["message"].startswith("gc removed 1 pending records")]
        assert len(removed) == 1  # the abandoned registration, collected once
        # Both replicas ran it, one at a time: a run starts an interval after the last one
        # finished on either (two replicas on their own would run it in pairs).
        assert {r["logger"] for r in runs} == {"opsml.server.jobs"}
        times = sorted(datetime.fromisoformat(r["time"]) for r in runs)
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.9, gaps
        scraped = [httpx.get(f"{base}/opsml/api/metrics").text for _, _, base in replicas]
        per_replica = [
            _metric(body, 'opsml_job_runs_total{job="gc",outcome="ok"}')
            if 'job="gc",outcome="ok"' in body
            else 0.0
            for body in scraped
        ]
        # Once a second between them (not once per replica and second): each run is
        # counted by the replica that ran it.
        assert sum(per_replica) >= len(runs)
    finally:
        for _, proc, _ in replicas:
            _stop(proc)
    assert not [p for p in (tmp_path / "storage").rglob("*") if p.is_file()]
