"""Webhooks in SQL: the registered endpoints, the outbox of deliveries and their attempts.

A registry write that causes an event (a card registered, updated or deleted, an alias
moved, an experiment finished) adds one outbox row per subscribed webhook **in the
transaction of the write**, so an event exists exactly when its write does and survives any
restart until it is delivered. Delivery (``opsml.server._webhook_delivery``) claims rows
with a lease, so several server processes never send one row at once, and sends a card's
events in outbox order: a row waits while an older row of the same webhook and card name is
undelivered.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import (
    Connection,
    and_,
    delete,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from opsml.errors import CardNotFoundError, InvalidArgumentError
from opsml.store._errors import store_error
from opsml.store._outbox import (
    ATTEMPTS,
    DELIVERED,
    EVENT_TYPES,
    FAILED,
    OUTBOX,
    PENDING,
    SENDING,
    WEBHOOKS,
)
from opsml.store._store import SqlStore

__all__ = ["Delivery", "WebhookAttempt", "WebhookRow", "WebhookStore"]

T = TypeVar("T")


@dataclass(frozen=True)
class WebhookRow:
    """A registered webhook (its secret never leaves the server)."""

    id: str
    url: str
    events: tuple[str, ...]
    created_at: datetime
    created_by: str
    secret: str = field(repr=False, default="")


@dataclass(frozen=True)
class Delivery:
    """One event for one webhook: its state and, once claimed, what to send where."""

    id: int
    delivery_id: str
    webhook_id: str
    event: str
    order_key: str
    payload: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class WebhookAttempt:
    """One try to deliver: when, the answer's status (``None``: no answer) and latency."""

    delivery_id: str
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _check_webhook(url: str, secret: str, events: Sequence[str]) -> tuple[str, list[str]]:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgumentError(f"a webhook URL is an http:// or https:// URL, got {url!r}")
    if parts.username or parts.password:
        raise InvalidArgumentError("a webhook URL carries no credentials: use the secret")
    if not 16 <= len(secret) <= 256:
        raise InvalidArgumentError("a webhook secret has 16 to 256 characters")
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown or not events:
        raise InvalidArgumentError(
            f"webhook events: give at least one of {', '.join(EVENT_TYPES)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    return url.strip(), [e for e in EVENT_TYPES if e in events]


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=int(row.id),
        delivery_id=str(row.delivery_id),
        webhook_id=str(row.webhook_id),
        event=str(row.event),
        order_key=str(row.order_key),
        payload=str(row.payload),
        status=str(row.status),
        attempts=int(row.attempts),
        created_at=_aware(row.created_at) or _now(),
        next_attempt_at=_aware(row.next_attempt_at) or _now(),
        delivered_at=_aware(row.delivered_at),
        last_error=row.last_error,
    )


class WebhookStore:
    """SQL operations on the webhook tables (same engine as the card store)."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def _read(self, fn: Callable[[Connection], T], what: str) -> T:
        try:
            with self._store._read() as conn:
                return fn(conn)
        except SQLAlchemyError as exc:
            raise store_error(what, exc) from exc

    def _write(self, fn: Callable[[Connection], Any], what: str) -> None:
        self._store._retrying(fn, what)

    # -- webhooks ---------------------------------------------------------------------

    def add(self, url: str, secret: str, events: Sequence[str], created_by: str) -> WebhookRow:
        """Register a webhook.

        Args:
            url: An ``http://`` or ``https://`` URL without credentials.
            secret: The HMAC key: 16-256 characters.
            events: At least one of :data:`EVENT_TYPES`.
            created_by: Who registers it.

        Raises:
            InvalidArgumentError: A bad URL, secret or event.
        """
        url, events = _check_webhook(url, secret, events)
        row = WebhookRow(
            id=secrets.token_hex(16),
            url=url,
            events=tuple(events),
            created_at=_now(),
            created_by=created_by,
            secret=secret,
        )
        values = {
            "id": row.id,
            "url": url,
            "secret": secret,
            "events": json.dumps(list(events)),
            "created_at": row.created_at,
            "created_by": created_by[:128],
        }
        self._write(lambda c: c.execute(insert(WEBHOOKS).values(**values)), "adding a webhook")
        return row

    def webhooks(self) -> list[WebhookRow]:
        """Every webhook, oldest first (secrets included: for the server only)."""
        rows = self._read(
            lambda c: list(c.execute(select(WEBHOOKS).order_by(WEBHOOKS.c.created_at))),
            "listing webhooks",
        )
        return [
            WebhookRow(
                id=str(r.id),
                url=str(r.url),
                events=tuple(json.loads(r.events)),
                created_at=_aware(r.created_at) or _now(),
                created_by=str(r.created_by),
                secret=str(r.secret),
            )
            for r in rows
        ]

    def get(self, webhook_id: str) -> WebhookRow:
        """One webhook.

        Raises:
            CardNotFoundError: No such webhook.
        """
        for row in self.webhooks():
            if row.id == webhook_id:
                return row
        raise CardNotFoundError(f"no webhook {webhook_id!r}")

    def delete(self, webhook_id: str) -> None:
        """Remove a webhook and its undelivered deliveries (attempts stay recorded).

        Raises:
            CardNotFoundError: No such webhook.
        """

        def run(conn: Connection) -> None:
            done = conn.execute(delete(WEBHOOKS).where(WEBHOOKS.c.id == webhook_id))
            if done.rowcount == 0:
                raise CardNotFoundError(f"no webhook {webhook_id!r}")
            conn.execute(
                delete(OUTBOX).where(
                    OUTBOX.c.webhook_id == webhook_id, OUTBOX.c.status.in_((PENDING, SENDING))
                )
            )

        self._write(run, f"deleting webhook {webhook_id}")

    # -- deliveries -------------------------------------------------------------------

    def deliveries(self, webhook_id: str, limit: int = 100) -> list[Delivery]:
        """A webhook's deliveries, newest first."""
        stmt = (
            select(OUTBOX)
            .where(OUTBOX.c.webhook_id == webhook_id)
            .order_by(OUTBOX.c.id.desc())
            .limit(limit)
        )
        return [_delivery(r) for r in self._read(lambda c: list(c.execute(stmt)), "listing")]

    def attempts(self, delivery_ids: Sequence[str]) -> list[WebhookAttempt]:
        """The attempts of these deliveries, oldest first."""
        if not delivery_ids:
            return []
        stmt = (
            select(ATTEMPTS)
            .where(ATTEMPTS.c.delivery_id.in_(list(delivery_ids)))
            .order_by(ATTEMPTS.c.id)
        )
        rows = self._read(lambda c: list(c.execute(stmt)), "listing webhook attempts")
        return [
            WebhookAttempt(
                str(r.delivery_id),
                _aware(r.attempted_at) or _now(),
                r.status_code,
                int(r.latency_ms),
                r.error,
            )
            for r in rows
        ]

    def claim(self, limit: int, lease: timedelta) -> list[tuple[Delivery, WebhookRow]]:
        """Take up to ``limit`` due deliveries, each the oldest undelivered one of its
        webhook and card name, for ``lease`` (a claim whose process dies is taken again
        when its lease ends)."""
        now = _now()
        older = OUTBOX.alias("older")
        due = (
            select(OUTBOX)
            .where(
                or_(
                    and_(OUTBOX.c.status == PENDING, OUTBOX.c.next_attempt_at <= now),
                    and_(OUTBOX.c.status == SENDING, OUTBOX.c.lease_until < now),
                ),
                ~exists().where(
                    older.c.webhook_id == OUTBOX.c.webhook_id,
                    older.c.order_key == OUTBOX.c.order_key,
                    older.c.id < OUTBOX.c.id,
                    older.c.status.in_((PENDING, SENDING)),
                ),
            )
            .order_by(OUTBOX.c.id)
            .limit(limit)
        )
        candidates = self._read(lambda c: [_delivery(r) for r in c.execute(due)], "outbox")
        if not candidates:
            return []
        hooks = {h.id: h for h in self.webhooks()}
        claimed: list[tuple[Delivery, WebhookRow]] = []
        for candidate in candidates:
            hook = hooks.get(candidate.webhook_id)
            if hook is None:
                continue
            won: list[bool] = []

            def run(conn: Connection, d: Delivery = candidate, out: list[bool] = won) -> None:
                result = conn.execute(
                    update(OUTBOX)
                    .where(OUTBOX.c.id == d.id, OUTBOX.c.status == d.status)
                    .where(
                        OUTBOX.c.lease_until.is_(None)
                        if d.status == PENDING
                        else OUTBOX.c.lease_until < now
                    )
                    .values(status=SENDING, lease_until=now + lease)
                )
                out.append(result.rowcount == 1)

            self._write(run, "claiming a webhook delivery")
            if won and won[0]:
                claimed.append((candidate, hook))
        return claimed

    def release(self, deliveries: Sequence[Delivery]) -> None:
        """Give back claimed deliveries that were not attempted (a server stopping)."""
        ids = [d.id for d in deliveries]
        if not ids:
            return

        def run(conn: Connection) -> None:
            conn.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id.in_(ids), OUTBOX.c.status == SENDING)
                .values(status=PENDING, lease_until=None)
            )

        self._write(run, "releasing webhook deliveries")

    def record(
        self,
        delivery: Delivery,
        attempt: WebhookAttempt,
        *,
        delivered: bool,
        retry_at: datetime | None,
    ) -> None:
        """Record an attempt; the delivery is done, due again at ``retry_at``, or (neither)
        given up."""
        status = DELIVERED if delivered else PENDING if retry_at is not None else FAILED

        def run(conn: Connection) -> None:
            conn.execute(
                insert(ATTEMPTS).values(
                    delivery_id=delivery.delivery_id,
                    attempted_at=attempt.attempted_at,
                    status_code=attempt.status_code,
                    latency_ms=attempt.latency_ms,
                    error=None if attempt.error is None else attempt.error[:1024],
                )
            )
            conn.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id == delivery.id)
                .values(
                    status=status,
                    attempts=OUTBOX.c.attempts + 1,
                    lease_until=None,
                    next_attempt_at=retry_at or attempt.attempted_at,
                    delivered_at=attempt.attempted_at if delivered else None,
                    last_error=None if attempt.error is None else attempt.error[:1024],
                )
            )

        self._write(run, "recording a webhook attempt")
