"""The webhook outbox: events are queued with the write that caused them, only for the
webhooks subscribed to them, and handed out one card at a time, in order, under a lease."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsml import CardRegistry, ExperimentCard, Prompt, PromptCard, RegistryType
from opsml.store import Delivery, WebhookAttempt, WebhookStore


@pytest.fixture
def hooks(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> WebhookStore:
    monkeypatch.setenv("OPSML_TRACKING_URI", db_url)
    monkeypatch.setenv("OPSML_STORAGE_URI", str(tmp_path / "registries"))
    return WebhookStore(CardRegistry(RegistryType.Prompt).backend.store)  # type: ignore[attr-defined]


def _events(store: WebhookStore, hook: str) -> list[tuple[str, dict[str, object]]]:
    found = reversed(store.deliveries(hook, limit=1000))
    return [(d.event, json.loads(d.payload)) for d in found]


def _register(name: str) -> PromptCard:
    card = PromptCard(prompt=Prompt(message="x"), space="s", name=name)
    CardRegistry(RegistryType.Prompt).register_card(card)
    return card


def _attempt(delivery: Delivery, status: int | None) -> WebhookAttempt:
    return WebhookAttempt(delivery.delivery_id, datetime.now(UTC), status, 3, None)


def test_events_are_queued_only_for_subscribed_webhooks(hooks: WebhookStore) -> None:
    _register("before")  # no webhook yet: nothing queued
    every = hooks.add(
        "http://x/1",
        "s" * 16,
        ["card.registered", "card.updated", "card.deleted", "alias.moved", "experiment.finished"],
        "root",
    )
    only = hooks.add("http://x/2", "s" * 16, ["card.deleted"], "root")
    registry = CardRegistry(RegistryType.Prompt)
    card = _register("a")
    card.tags = ["t"]
    registry.update_card(card)
    registry.set_alias("s", "a", "prod", "0.1.0")
    registry.delete_card(card)
    experiments = CardRegistry(RegistryType.Experiment)
    run = ExperimentCard(space="s", name="run")
    experiments.register_card(run)
    run.status = "running"
    experiments.update_card(run)
    run.status = "completed"
    experiments.update_card(run)

    events = _events(hooks, every.id)
    assert [e for e, _ in events] == [
        "card.registered",
        "card.updated",
        "alias.moved",
        "card.deleted",
        "card.registered",
        "card.updated",
        "card.updated",
        "experiment.finished",
    ]
    alias = events[2][1]
    assert alias["card"] == {  # type: ignore[comparison-overlap]
        "registry_type": "prompt",
        "space": "s",
        "name": "a",
        "version": "0.1.0",
        "uid": card.uid,
    }
    assert alias["data"] == {"alias": "prod", "from": None, "to": "0.1.0"}
    assert events[-1][1]["data"] == {"status": "completed"}
    assert [e for e, _ in _events(hooks, only.id)] == ["card.deleted"]

    hooks.delete(only.id)
    assert [w.id for w in hooks.webhooks()] == [every.id]


def test_one_card_at_a_time_in_order_under_a_lease(hooks: WebhookStore) -> None:
    hook = hooks.add("http://x", "s" * 16, ["card.registered"], "root")
    first, _second = _register("a"), _register("a")
    _register("b")
    lease = timedelta(minutes=1)

    claimed = [d for d, _ in hooks.claim(10, lease)]
    assert [json.loads(d.payload)["card"]["name"] for d in claimed] == ["a", "b"]
    assert json.loads(claimed[0].payload)["card"]["uid"] == first.uid
    assert hooks.claim(10, lease) == []  # leased, and a's second waits for its first

    retry = datetime.now(UTC) + timedelta(minutes=5)
    hooks.record(claimed[0], _attempt(claimed[0], 500), delivered=False, retry_at=retry)
    hooks.record(claimed[1], _attempt(claimed[1], 200), delivered=True, retry_at=None)
    assert hooks.claim(10, lease) == []  # a's first is due in 5 minutes; its second waits

    hooks.record(claimed[0], _attempt(claimed[0], None), delivered=False, retry_at=None)
    (next_one, _), *rest = hooks.claim(10, timedelta(seconds=-1))  # given up: the next goes
    assert rest == []
    assert next_one.id not in {d.id for d in claimed}
    (again, _), *_ = hooks.claim(10, lease)  # its lease ran out: taken again
    assert again.id == next_one.id

    states = {d.id: (d.status, d.attempts) for d in hooks.deliveries(hook.id)}
    assert states[claimed[0].id] == ("failed", 2)
    assert states[claimed[1].id] == ("delivered", 1)
    attempts = hooks.attempts([claimed[0].delivery_id])
    assert [a.status_code for a in attempts] == [500, None]
