"""The server's logs: JSON lines for log collectors, or text for a person at a terminal.

``OPSML_LOG_FORMAT=json`` writes one JSON object a line (``time``, ``level``, ``logger``,
``message``, and the fields a record carries, such as the request log's ``route``,
``status``, ``duration_ms``, ``user`` and ``request_id``); ``text`` writes
``time level logger: message key=value …``; ``auto`` (the default) picks text when standard
error is a terminal and JSON otherwise. Every record passes :class:`Redact` first, which
replaces anything shaped like a bearer token, a JSON web token, an opsml API token or a
single sign-on code (a callback's ``code`` and ``state``, a device login's codes) by
``[redacted]``: a token that reaches a log line by accident (an exception message quoting a
header) is not written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

__all__ = ["REQUEST_LOGGER", "JsonFormatter", "Redact", "TextFormatter", "log_config"]

REQUEST_LOGGER = "opsml.server.requests"
"""The logger of the one line per request (``OPSML_SERVER_ACCESS_LOG``)."""

_SECRET = re.compile(
    r"(?i)(bearer\s+)[^\s\"',;]+"  # an Authorization header's value
    r"|eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]+"  # a JSON web token (header.payload.signature)
    r"|opsml_[0-9a-f]{16}_[\w-]{20,}"  # an opsml API token (id, then secret)
    r"|((?:password|secret|token)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]+"  # name=value pairs
    # Single sign-on: a callback's code and state, a device login's codes, a PKCE verifier.
    r"|((?:[?&](?:code|state|session_state)|device_code|user_code|code_verifier|nonce)"
    r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]+"
)

# What every LogRecord has: the rest are the fields a caller passed with ``extra=``.
_STANDARD = frozenset(
    set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__)
    | {"message", "asctime", "color_message", "taskName"}
)


def _scrub(text: str) -> str:
    return _SECRET.sub(
        lambda m: (m.group(1) or m.group(2) or m.group(3) or "") + "[redacted]", text
    )


class Redact(logging.Filter):
    """Replace token-shaped text in a record's message and arguments by ``[redacted]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub the record in place; never drops it."""
        message = record.getMessage()
        scrubbed = _scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = _scrub(logging.Formatter().formatException(record.exc_info))
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``,
    the record's extra fields, and ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry: dict[str, Any] = {
            "time": f"{created}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``2026-01-02 03:04:05 INFO logger: message key=value …`` for a person to read."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        """The record as text, its extra fields appended as ``key=value``."""
        line = super().format(record)
        fields = _fields(record)
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return line


def _resolve(log_format: str) -> str:
    if log_format != "auto":
        return log_format
    return "text" if sys.stderr.isatty() else "json"


def log_config(log_format: str) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of a server process (uvicorn's loggers and
    opsml's), in ``log_format`` (``json``, ``text`` or ``auto``)."""
    formatter = JsonFormatter if _resolve(log_format) == "json" else TextFormatter
    handler = {"class": "logging.StreamHandler", "formatter": "opsml", "filters": ["redact"]}
    logger = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": Redact}},
        "formatters": {"opsml": {"()": formatter}},
        "handlers": {"default": {**handler, "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": logger,
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {**logger, "level": "WARNING"},
            "opsml": logger,
        },
    }
