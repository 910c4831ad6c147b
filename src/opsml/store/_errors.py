"""Database errors translated into the opsml error tree, one line each.

SQLAlchemy's own message holds the statement, its parameters and a link to its help pages;
none of that belongs in an opsml error (the CLI prints one line, the server never shows
database text). The message keeps the driver's one-line reason, and the whole SQLAlchemy
error stays the ``__cause__`` and is logged at DEBUG on ``opsml.store``.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, StatementError

from opsml.errors import MetadataStoreError, UnstorableValueError

__all__ = ["store_error"]

_log = logging.getLogger("opsml.store")
_REASON_CHARS = 200
# MySQL/MariaDB errors about a value rather than the database: out of range (1264), illegal
# mix of collations (1267, 1270, 1271), incorrect string value (1366), data too long (1406).
_MYSQL_VALUE_ERRORS = frozenset({1264, 1267, 1270, 1271, 1366, 1406})


def _reason(exc: Exception) -> str:
    """The driver's reason on one line, without statement or parameters."""
    orig = exc.orig if isinstance(exc, StatementError) else exc
    if orig is None:
        return type(exc).__name__
    args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        text = args[1]  # PyMySQL: (code, message)
    else:
        text = str(orig)
    line = " ".join(text.strip().splitlines()[:1]).strip() or type(orig).__name__
    if len(line) > _REASON_CHARS:
        line = line[: _REASON_CHARS - 1] + "…"
    return f"{type(orig).__name__}: {line}"


def _refused_value(exc: Exception) -> bool:
    """Whether the database refused a value of the statement (not a failure of its own)."""
    if isinstance(exc, DataError | OverflowError):  # OverflowError: sqlite3's, for an int
        return True
    orig = exc.orig if isinstance(exc, StatementError) else None
    if isinstance(orig, UnicodeError):  # text the connection's encoding cannot carry
        return True
    args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
    return isinstance(exc, DBAPIError) and bool(args) and args[0] in _MYSQL_VALUE_ERRORS


def store_error(what: str, exc: Exception) -> MetadataStoreError | UnstorableValueError:
    """The opsml error for a failed database operation (raise it ``from exc``).

    Args:
        what: The operation, e.g. ``"logging metrics"``.
        exc: The SQLAlchemy error (or the ``OverflowError`` sqlite3 raises for an integer
            beyond 64 bits, which SQLAlchemy does not wrap).

    Returns:
        :class:`~opsml.errors.UnstorableValueError` when the database refused a value of
        the statement, else :class:`~opsml.errors.MetadataStoreError`.
    """
    _log.debug("%s failed", what, exc_info=exc)
    if _refused_value(exc):
        return UnstorableValueError(f"{what} failed: the database refused a value: {_reason(exc)}")
    return MetadataStoreError(f"{what} failed: {_reason(exc)}")
