"""Webhook signatures: how an opsml server signs a delivery, and how a receiver checks one.

Every delivery is a ``POST`` of a JSON body with these headers:

- ``X-Opsml-Event``: the event type (``card.registered``, ``alias.moved``, …);
- ``X-Opsml-Delivery``: the delivery id, the same on every retry of one delivery;
- ``X-Opsml-Timestamp``: when this attempt was signed, in whole seconds since the epoch;
- ``X-Opsml-Signature``: ``sha256=`` and the hex HMAC-SHA256, keyed with the webhook's
  secret, of ``"<timestamp>." + body``.

A receiver recomputes the HMAC over the raw body and the timestamp header, compares it in
constant time, refuses timestamps outside its replay window (:data:`DEFAULT_TOLERANCE`,
five minutes, either way) and remembers the delivery ids it has processed for at least that
window, so a captured request replayed later is refused: :func:`verify_signature` does the
first three.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from opsml.errors import AuthenticationError

__all__ = [
    "DEFAULT_TOLERANCE",
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "sign",
    "verify_signature",
]

EVENT_HEADER = "X-Opsml-Event"
DELIVERY_HEADER = "X-Opsml-Delivery"
TIMESTAMP_HEADER = "X-Opsml-Timestamp"
SIGNATURE_HEADER = "X-Opsml-Signature"
DEFAULT_TOLERANCE = 300
"""Seconds a signed timestamp may differ from the receiver's clock (the replay window)."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Opsml-Signature`` value of ``body`` signed at ``timestamp``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


def verify_signature(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check a delivery's signature and timestamp, as a receiver should.

    Args:
        secret: The webhook's secret.
        body: The request body, exactly as received.
        headers: The request headers (any case).
        tolerance: The replay window in seconds.
        now: The current time (default: this machine's clock).

    Returns:
        The signed timestamp.

    Raises:
        AuthenticationError: A header is missing, the signature does not match (a forged or
            altered request), or the timestamp is outside the window (a replay).
    """
    stamp = _header(headers, TIMESTAMP_HEADER)
    given = _header(headers, SIGNATURE_HEADER)
    if not stamp.isdigit() or not given:
        raise AuthenticationError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    timestamp = int(stamp)
    if not hmac.compare_digest(sign(secret, timestamp, body), given):
        raise AuthenticationError("webhook signature does not match")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise AuthenticationError(
            f"webhook timestamp {timestamp} is outside the {tolerance} s replay window"
        )
    return timestamp
