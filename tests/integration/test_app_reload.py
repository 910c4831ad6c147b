"""A FastAPI app serving a model from AppState, in a real uvicorn process, keeps answering
while a new service version is registered and hot-reloaded: no request fails and every
queue record reaches Redis (the PSI bin counts add up to the requests answered)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import scouter  # noqa: F401 - needs the monitoring extra
from tests.unit.app.conftest import (  # noqa: F401 - redis_subscriber is a fixture
    RedisSubscriber,
    psi_counts,
    redis_subscriber,
    register_service,
    unique,
)

from opsml.card import download_service

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("sqlite_registry_env")]

APP = """\
import os
from contextlib import asynccontextmanager

import pandas as pd
from fastapi import FastAPI

from opsml.app import AppState, ReloadConfig
from opsml.scouter.queue import Features, RedisConfig


@asynccontextmanager
async def lifespan(app: FastAPI):
    state = AppState.from_path(
        os.environ["APP_PATH"],
        transport_config=RedisConfig(channel=os.environ["CHANNEL"]),
        reload_config=ReloadConfig(cron="* * * * * *", write_path=os.environ["RELOAD_PATH"]),
    )
    state.start_reloader()
    app.state.app_state = state
    yield
    state.shutdown()


app = FastAPI(lifespan=lifespan)


@app.post("/predict")
def predict(payload: dict[str, float]) -> dict[str, object]:
    state = app.state.app_state
    card = state.service["model"]  # one read: this request keeps these cards
    prediction = card.model.predict(pd.DataFrame([payload]))
    state.queue["psi"].insert(Features(payload))
    return {"prediction": bool(prediction[0]), "version": card.version}
"""

_RUNNING = re.compile(rb"Uvicorn running on http://127\.0\.0\.1:(\d+)")


def _start(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str, Path]:
    (tmp_path / "serve_app.py").write_text(textwrap.dedent(APP))
    log = tmp_path / "uvicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "serve_app:app", "--host", "127.0.0.1",
             "--port", "0", "--log-level", "info"],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        found = _RUNNING.search(log.read_bytes())
        if found:
            return process, f"http://127.0.0.1:{int(found.group(1))}", log
        time.sleep(0.1)
    process.kill()
    pytest.fail(f"the app did not start:\n{log.read_text(errors='replace')[-3000:]}")


def test_the_app_keeps_answering_across_a_reload(
    tmp_path: Path,
    redis_subscriber: Callable[[str], RedisSubscriber],  # noqa: F811
) -> None:
    channel = unique("opsml-app-reload")
    subscriber = redis_subscriber(channel)
    service = register_service()
    folder = download_service(tmp_path / "app", uid=service.uid)
    env = {
        **os.environ,
        "APP_PATH": str(folder),
        "CHANNEL": channel,
        "RELOAD_PATH": str(tmp_path / "reload"),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    process, url, log = _start(tmp_path, env)
    answered: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def client(seed: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            value = seed / 10
            while not stop.is_set():
                try:
                    response = http.post("/predict", json={"col_0": value, "col_1": 0.5})
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text}")
                    continue
                answered.append(response.json()["version"])
                time.sleep(0.005)  # a steady load, not a saturated CPU

    clients = [threading.Thread(target=client, args=(seed,)) for seed in range(2)]
    try:
        for thread in clients:
            thread.start()
        time.sleep(1.0)
        register_service(seed=1)  # version 0.2.0 of the service, with a new model
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "0.2.0" not in answered[-20:]:
            time.sleep(0.2)
        time.sleep(1.0)  # keep serving the new version for a while
    finally:
        stop.set()
        for thread in clients:
            thread.join()
        process.terminate()  # graceful: the lifespan shuts the queue down, flushing it
        process.wait(timeout=60)
    output = log.read_text(errors="replace")
    assert failures == [], output[-3000:]
    assert "0.1.0" in answered
    assert answered[-1] == "0.2.0", output[-3000:]
    bodies = subscriber.messages()
    assert psi_counts(bodies) == {"col_0": len(answered), "col_1": len(answered)}
    versions = {r["Psi"]["version"] for body in bodies for r in body["records"]}
    assert versions == {"0.1.0", "0.2.0"}
