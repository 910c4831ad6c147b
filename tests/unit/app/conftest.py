"""Services with drift profiles to serve, and readers of what the queue transports carry."""

from __future__ import annotations

import json
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scouter  # noqa: F401 - these tests need the monitoring extra
from sklearn.linear_model import LogisticRegression

from opsml import CardRegistry, ModelCard, RegistryType, ServiceCard, SklearnModel
from opsml.card import Card
from opsml.scouter import CustomMetric, CustomMetricDriftConfig, PsiDriftConfig
from opsml.scouter.alert import AlertThreshold

FEATURES = ("col_0", "col_1")


def register_service(space: str = "shop", name: str = "service", seed: int = 0) -> ServiceCard:
    """Register a model with a PSI and a custom-metric profile, and a service holding it."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({col: rng.random(300) for col in FEATURES})
    model = SklearnModel(
        model=LogisticRegression().fit(frame, frame["col_0"] > 0.5), sample_data=frame
    )
    model.create_drift_profile("psi", frame, PsiDriftConfig())
    metric = CustomMetric(name="auc", value=0.8, alert_threshold=AlertThreshold.Below)
    model.create_drift_profile("quality", [metric], CustomMetricDriftConfig())
    card = ModelCard(interface=model, space=space, name="model")
    CardRegistry(RegistryType.Model).register_card(card)
    service = ServiceCard(
        space=space,
        name=name,
        cards=[Card(alias="model", uid=card.uid, registry_type=RegistryType.Model)],
    )
    CardRegistry(RegistryType.Service).register_card(service)
    return service


def psi_counts(bodies: list[Any]) -> Counter[str]:
    """Features counted per feature name in scouter ``ServerRecords`` bodies (the bin counts
    of PSI records add up to the number of inserted records)."""
    counts: Counter[str] = Counter()
    for body in bodies:
        for record in body["records"]:
            psi = record.get("Psi")
            if psi is not None:
                counts[psi["feature"]] += psi["bin_count"]
    return counts


class RedisSubscriber:
    """A Redis pub/sub subscriber speaking RESP over a socket (no client library needed)."""

    def __init__(self, channel: str, address: tuple[str, int] = ("127.0.0.1", 6379)) -> None:
        self._sock = socket.create_connection(address, timeout=5)
        self._file = self._sock.makefile("rb")
        name = channel.encode()
        self._sock.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(name), name))
        assert self._read()[0] == b"subscribe"

    def _read(self) -> Any:
        line = self._file.readline()
        if not line:
            raise ConnectionError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"*":
            return [self._read() for _ in range(int(rest))]
        if kind == b"$":
            data = self._file.read(int(rest) + 2)
            return data[:-2]
        if kind == b":":
            return int(rest)
        return rest

    def messages(self, settle: float = 1.0) -> list[Any]:
        """Every message published until none arrived for ``settle`` seconds."""
        self._sock.settimeout(settle)
        found: list[Any] = []
        while True:
            try:
                reply = self._read()
            except TimeoutError:
                return found
            if reply[0] == b"message":
                found.append(json.loads(reply[2]))

    def close(self) -> None:
        self._file.close()
        self._sock.close()


@pytest.fixture
def redis_subscriber() -> Iterator[Callable[[str], RedisSubscriber]]:
    """Subscribe to a Redis channel (skips, or fails under CI, when Redis is not running)."""
    from tests.conftest import _unavailable

    opened: list[RedisSubscriber] = []

    def subscribe(channel: str) -> RedisSubscriber:
        try:
            subscriber = RedisSubscriber(channel)
        except OSError as exc:
            _unavailable("Redis on 127.0.0.1:6379", exc)
        opened.append(subscriber)
        return subscriber

    yield subscribe
    for subscriber in opened:
        subscriber.close()


def unique(prefix: str) -> str:
    """A channel or queue name no other test run uses."""
    return f"{prefix}-{time.time_ns()}"


def installed_service(tmp_path: Path, service: ServiceCard) -> Path:
    """Download ``service`` as ``download_service`` does; the folder."""
    from opsml.card import download_service

    return download_service(tmp_path / "app", uid=service.uid)
