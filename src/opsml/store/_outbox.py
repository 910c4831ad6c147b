"""The webhook tables and the outbox: events written in the transaction of the registry write
that caused them (see :mod:`opsml.store._webhooks` for the rest)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    insert,
    select,
)

from opsml._uuid import uuid7
from opsml.store._schema import METADATA, ascii_string, exact_text, long_text
from opsml.types import RegistryType

__all__ = [
    "ATTEMPTS",
    "DELIVERED",
    "EVENT_TYPES",
    "Event",
    "FAILED",
    "OUTBOX",
    "PENDING",
    "SENDING",
    "WEBHOOKS",
    "enqueue",
]

EVENT_TYPES = (
    "card.registered",
    "card.updated",
    "card.deleted",
    "alias.moved",
    "experiment.finished",
)
"""Every event a webhook can subscribe to."""

PENDING, SENDING, DELIVERED, FAILED = "pending", "sending", "delivered", "failed"

WEBHOOKS = Table(
    "opsml_webhooks",
    METADATA,
    Column("id", ascii_string(32), primary_key=True),
    Column("url", String(2048), nullable=False),
    Column("secret", String(256), nullable=False),
    Column("events", String(1024), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", exact_text(128), nullable=False),
)

OUTBOX = Table(
    "opsml_webhook_outbox",
    METADATA,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("delivery_id", ascii_string(36), nullable=False, unique=True),
    Column("webhook_id", ascii_string(32), nullable=False),
    Column("event", ascii_string(64), nullable=False),
    Column("order_key", ascii_string(400), nullable=False),
    Column("payload", long_text(), nullable=False),
    Column("status", ascii_string(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("last_error", String(1024), nullable=True),
    Index("ix_opsml_webhook_outbox_due", "status", "next_attempt_at"),
    Index("ix_opsml_webhook_outbox_order", "webhook_id", "order_key", "status", "id"),
)

ATTEMPTS = Table(
    "opsml_webhook_attempts",
    METADATA,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("delivery_id", ascii_string(36), nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=False),
    Column("error", String(1024), nullable=True),
    Index("ix_opsml_webhook_attempts_delivery", "delivery_id", "id"),
)


@dataclass(frozen=True)
class Event:
    """Something that happened to a card, as a webhook receives it."""

    type: str
    registry: RegistryType
    space: str
    name: str
    version: str
    uid: str
    data: dict[str, Any] = field(default_factory=dict)

    def payload(self, delivery_id: str, now: datetime) -> dict[str, Any]:
        """The JSON body of a delivery of this event."""
        return {
            "delivery_id": delivery_id,
            "event": self.type,
            "created_at": now.isoformat(),
            "card": {
                "registry_type": self.registry.value,
                "space": self.space,
                "name": self.name,
                "version": self.version,
                "uid": self.uid,
            },
            "data": self.data,
        }


def _now() -> datetime:
    return datetime.now(UTC)


def enqueue(conn: Connection, events: Sequence[Event]) -> None:
    """Add the deliveries of ``events`` for every webhook subscribed to them, in the caller's
    transaction (nothing when no webhook is registered)."""
    if not events:
        return
    hooks = [
        (str(i), json.loads(e)) for i, e in conn.execute(select(WEBHOOKS.c.id, WEBHOOKS.c.events))
    ]
    if not hooks:
        return
    now = _now()
    rows = []
    for event in events:
        for hook_id, subscribed in hooks:
            if event.type not in subscribed:
                continue
            delivery_id = uuid7()
            rows.append(
                {
                    "delivery_id": delivery_id,
                    "webhook_id": hook_id,
                    "event": event.type,
                    "order_key": f"{event.registry.value}/{event.space}/{event.name}"[:400],
                    "payload": json.dumps(event.payload(delivery_id, now)),
                    "status": PENDING,
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                }
            )
    if rows:
        conn.execute(insert(OUTBOX), rows)
