"""What a client sees of an error: the one table mapping domain errors to HTTP status codes,
the request id every answer carries, and the rule that database text stays in the log.

Every response has an ``X-Request-ID`` header (the caller's own, when it sends a short
token, else a new one). An error the client caused or may know about (bad input, a missing
card, a denied permission) answers with its opsml class and message. An error that carries
what the database said (:class:`~opsml.errors.MetadataStoreError`,
:class:`~opsml.errors.UnstorableValueError`) or that opsml did not expect answers with a
generic detail naming the request id, and the whole error (statement, parameters, driver
message, traceback) is logged on ``opsml.server`` under that id.
"""

from __future__ import annotations

import logging
import os
import random
import re
from collections.abc import MutableMapping
from typing import Any

from opsml import errors

__all__ = [
    "REQUEST_ID_HEADER",
    "STATUS_BY_ERROR",
    "assign_request_id",
    "private_detail",
    "public_detail",
    "request_id",
    "status_for",
    "with_request_id",
]

_log = logging.getLogger("opsml.server")

REQUEST_ID_HEADER = "x-request-id"
_GIVEN_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

STATUS_BY_ERROR: tuple[tuple[type[errors.OpsmlError], int], ...] = (
    (errors.CardNotFoundError, 404),
    (errors.VersionConflictError, 409),
    (errors.CardStateError, 409),
    (errors.AccountError, 409),
    (errors.InvalidArgumentError, 422),
    (errors.AuthenticationError, 401),
    (errors.PermissionDeniedError, 403),
    (errors.RateLimitError, 429),
    (errors.MonitoringError, 424),  # a failed dependency: not retried, the request stands
    (errors.LLMError, 502),
    (errors.MissingDependencyError, 501),
    (errors.MetadataStoreError, 503),
    (errors.StorageError, 503),
    (errors.ServerUnavailableError, 503),
    (errors.IntegrityError, 422),
    (errors.SerializationError, 500),
)

# Errors whose message is the database's: the client gets a generic detail instead.
_DATABASE_ERRORS: dict[type[errors.OpsmlError], str] = {
    errors.UnstorableValueError: "the database refused a value of this request",
    errors.MetadataStoreError: "the metadata store failed",
}


def status_for(exc: errors.OpsmlError) -> int:
    """HTTP status of a domain error (most specific class first; 500 when unlisted)."""
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 500


class _RequestIds:
    """New request ids: 64 random bits each, from a generator seeded by the operating
    system once per process (and again in a forked child, so that no two workers share a
    sequence). An id names a request in the logs and is no secret; the system call that
    ``secrets`` makes per id cost a card read about 3 % of its time."""

    def __init__(self) -> None:
        self._random = random.Random()  # seeded from os.urandom
        os.register_at_fork(after_in_child=self._random.seed)

    def new(self) -> str:
        """A new id: 16 hexadecimal digits."""
        return f"{self._random.getrandbits(64):016x}"


_new_request_id = _RequestIds().new


def request_id(scope: MutableMapping[str, Any]) -> str:
    """The id of the request ``scope`` belongs to (set by :class:`RequestId`)."""
    state = scope.setdefault("state", {})
    rid = state.get("request_id")
    if not isinstance(rid, str):
        rid = state["request_id"] = _new_request_id()
    return rid


def private_detail(what: str, exc: BaseException, rid: str) -> str:
    """Log ``exc`` in full under the request id; return the detail a client may see."""
    _log.error("request %s: %s: %s", rid, what, exc, exc_info=exc)
    return f"{what} (request id {rid}; the server log has the details)"


def public_detail(exc: errors.OpsmlError, rid: str) -> str:
    """The detail of an opsml error as a client may see it: its message, or for an error
    holding database text a generic line with the request id (the error is logged)."""
    for cls, what in _DATABASE_ERRORS.items():
        if isinstance(exc, cls):
            return private_detail(what, exc, rid)
    # A message may quote the request's own text: keep it encodable whatever it holds.
    return str(exc).encode("utf-8", "backslashreplace").decode("utf-8")


def assign_request_id(scope: MutableMapping[str, Any]) -> str:
    """Give the request of ``scope`` its id (``request.state.request_id``): the caller's own
    ``X-Request-ID`` when it is 8-64 safe characters, else a new one."""
    given = next(
        (bytes(v).decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-request-id"),
        "",
    )
    rid = given if _GIVEN_ID.fullmatch(given) else _new_request_id()
    scope.setdefault("state", {})["request_id"] = rid
    return rid


def with_request_id(message: Any, rid: str) -> Any:
    """The ``http.response.start`` message ``message`` answering ``rid`` in its
    ``X-Request-ID`` header (any other message unchanged)."""
    if message.get("type") != "http.response.start":
        return message
    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
    headers.append((b"x-request-id", rid.encode("ascii")))
    return {**message, "headers": headers}
