"""The queue's transports for real: records published through Redis, RabbitMQ and HTTP
(the Scouter stand-in) are read back and add up to what was inserted."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.unit.app.conftest import (
    RedisSubscriber,
    installed_service,
    psi_counts,
    register_service,
    unique,
)

from opsml.app import AppState
from opsml.mock import MockScouterServer
from opsml.scouter import HTTPConfig, Metric, Metrics, RabbitMQConfig
from opsml.scouter.queue import Features, RedisConfig

pytestmark = pytest.mark.usefixtures("sqlite_registry_env")
RECORDS = 1_500  # more than one batch of scouter's PSI queue (1 000), and a remainder


def feed(app: AppState) -> None:
    for index in range(RECORDS):
        app.queue["psi"].insert(Features({"col_0": index / RECORDS, "col_1": 0.5}))
    app.queue["quality"].insert(Metrics(metrics=[Metric("auc", 0.75)]))
    app.shutdown()  # flushes the remainder


def custom_values(bodies: list[Any]) -> list[float]:
    return [r["Custom"]["value"] for body in bodies for r in body["records"] if "Custom" in r]


def test_redis(tmp_path: Path, redis_subscriber: Callable[[str], RedisSubscriber]) -> None:
    channel = unique("opsml-redis")
    subscriber = redis_subscriber(channel)
    folder = installed_service(tmp_path, register_service())
    feed(AppState.from_path(folder, transport_config=RedisConfig(channel=channel)))
    bodies = subscriber.messages()
    assert psi_counts(bodies) == {"col_0": RECORDS, "col_1": RECORDS}
    assert custom_values(bodies) == [0.75]
    assert {r["Psi"]["name"] for b in bodies for r in b["records"] if "Psi" in r} == {"model"}


def test_rabbitmq(tmp_path: Path) -> None:
    pika = pytest.importorskip("pika")
    from tests.conftest import _unavailable

    queue = unique("opsml-rabbit")
    params = pika.ConnectionParameters(
        "127.0.0.1", 5672, credentials=pika.PlainCredentials("guest", "guest")
    )
    try:
        connection = pika.BlockingConnection(params)
    except pika.exceptions.AMQPConnectionError as exc:
        _unavailable("RabbitMQ on 127.0.0.1:5672", exc)
    folder = installed_service(tmp_path, register_service())
    config = RabbitMQConfig(
        host="127.0.0.1", port=5672, username="guest", password="guest", queue=queue
    )
    feed(AppState.from_path(folder, transport_config=config))
    channel = connection.channel()
    bodies = []
    while True:
        method, _, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            break
        bodies.append(json.loads(body))
    channel.queue_delete(queue)
    connection.close()
    assert psi_counts(bodies) == {"col_0": RECORDS, "col_1": RECORDS}
    assert custom_values(bodies) == [0.75]


def test_http_to_the_scouter_stand_in(tmp_path: Path) -> None:
    folder = installed_service(tmp_path, register_service())
    with MockScouterServer() as scouter:
        feed(AppState.from_path(folder, transport_config=HTTPConfig(server_uri=scouter.url)))
        bodies = scouter.records()
    assert psi_counts(bodies) == {"col_0": RECORDS, "col_1": RECORDS}
    assert custom_values(bodies) == [0.75]
