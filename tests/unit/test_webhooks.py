"""The documented receiver check: a valid delivery passes; a forged, altered or replayed one
is refused."""

from __future__ import annotations

import pytest

from opsml.errors import AuthenticationError
from opsml.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_signature

SECRET = "receiver-secret-0123456789"
BODY = b'{"event": "card.registered"}'
NOW = 1_800_000_000


def _headers(secret: str = SECRET, timestamp: int = NOW, body: bytes = BODY) -> dict[str, str]:
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, timestamp, body)}


def test_a_valid_delivery_passes() -> None:
    assert verify_signature(SECRET, BODY, _headers(), now=NOW + 10) == NOW
    lowercase = {k.lower(): v for k, v in _headers().items()}  # header names in any case
    assert verify_signature(SECRET, BODY, lowercase, now=NOW) == NOW


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (BODY, _headers(secret="another-secret-0123456789"), "does not match"),  # forged
        (BODY + b" ", _headers(), "does not match"),  # body altered
        (BODY, {**_headers(), TIMESTAMP_HEADER: str(NOW + 1)}, "does not match"),  # re-stamped
        (BODY, _headers(timestamp=NOW - 301), "replay window"),  # replayed later
        (BODY, _headers(timestamp=NOW + 301), "replay window"),  # from the future
        (BODY, {SIGNATURE_HEADER: sign(SECRET, NOW, BODY)}, "missing"),
        (BODY, {}, "missing"),
    ],
)
def test_forged_altered_and_replayed_deliveries_are_refused(
    body: bytes, headers: dict[str, str], message: str
) -> None:
    with pytest.raises(AuthenticationError, match=message):
        verify_signature(SECRET, body, headers, now=NOW)
