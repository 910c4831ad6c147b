"""Webhook delivery: a background thread of the server sends what the outbox holds.

Nothing here runs on a request's path: a registry write only adds outbox rows (in its own
transaction); this thread claims due rows (a lease, so several server processes never send
one row at once), POSTs each signed payload to its webhook's URL, records every attempt
(status code, latency, error) and schedules a failed one again with exponential backoff
and jitter, until it succeeds or ``max_age_seconds`` have passed since the event. A card's
events go out one after the other, in the order they happened. Undelivered rows stay in
the database, so a restarted server carries on where the last one stopped.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from opsml.server._config import WebhookConfig
from opsml.store import Delivery, WebhookAttempt, WebhookRow, WebhookStore
from opsml.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["WebhookDispatcher", "retry_delay"]

_log = logging.getLogger("opsml.server.webhooks")
_BATCH = 50


def retry_delay(config: WebhookConfig, attempts: int) -> float:
    """Seconds to wait after ``attempts`` failed attempts: doubling from
    ``backoff_seconds`` up to ``backoff_max_seconds``, with up to 10 % jitter."""
    growth: float = 2.0 ** max(attempts - 1, 0)
    base = min(config.backoff_seconds * growth, config.backoff_max_seconds)
    return base * random.uniform(0.9, 1.0)


class WebhookDispatcher:
    """The server's delivery thread (one per server process).

    Args:
        store: The webhook tables.
        config: Timeouts, backoff and the give-up age.
    """

    def __init__(self, store: WebhookStore, config: WebhookConfig) -> None:
        self.store = store
        self.config = config
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None  # made on the first delivery

    def _http(self) -> httpx.Client:
        # httpx is imported here, not when the server starts: a server without webhooks
        # never needs it (its import costs a tenth of a second of every start).
        if self._client is None:
            import httpx

            self._client = httpx.Client(timeout=self.config.timeout_seconds, follow_redirects=False)
        return self._client

    def start(self) -> None:
        """Start delivering in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="opsml-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop after the delivery in progress (its row is recorded, or its lease ends)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.config.timeout_seconds + 5)
        if self._client is not None:
            self._client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.deliver_due()
            except Exception as exc:  # a database hiccup must not end delivery for good
                _log.error("webhook delivery: %s", exc)
                sent = 0
            if not sent:
                self._stop.wait(self.config.poll_seconds)

    def deliver_due(self) -> int:
        """Send every due delivery once; returns how many were attempted."""
        lease = timedelta(seconds=self.config.timeout_seconds * 3 + 30)
        claimed = self.store.claim(_BATCH, lease)
        for i, (delivery, hook) in enumerate(claimed):
            if self._stop.is_set():  # stopping: the rest go back to the outbox at once
                self.store.release([d for d, _ in claimed[i:]])
                break
            self._attempt(delivery, hook)
        return len(claimed)

    def _attempt(self, delivery: Delivery, hook: WebhookRow) -> None:
        body = delivery.payload.encode("utf-8")
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": "opsml-webhooks",
            EVENT_HEADER: delivery.event,
            DELIVERY_HEADER: delivery.delivery_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(hook.secret, timestamp, body),
        }
        started = time.monotonic()
        attempted_at = datetime.now(UTC)
        status: int | None = None
        error: str | None = None
        import httpx

        try:
            response = self._http().post(hook.url, content=body, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        latency = int((time.monotonic() - started) * 1000)
        attempt = WebhookAttempt(delivery.delivery_id, attempted_at, status, latency, error)
        delivered = error is None
        retry_at: datetime | None = None
        if not delivered:
            due = attempted_at + timedelta(seconds=retry_delay(self.config, delivery.attempts + 1))
            if due - delivery.created_at <= timedelta(seconds=self.config.max_age_seconds):
                retry_at = due
            else:
                _log.warning(
                    "webhook %s: giving up delivery %s after %d attempts (%s)",
                    hook.id,
                    delivery.delivery_id,
                    delivery.attempts + 1,
                    error,
                )
        self.store.record(delivery, attempt, delivered=delivered, retry_at=retry_at)
