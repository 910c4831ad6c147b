"""The SQL metadata store (SQLAlchemy 2, Alembic migrations applied automatically)."""

from __future__ import annotations

from opsml.store._engine import get_engine, normalize_url
from opsml.store._store import OK, PENDING, CardQuery, SqlStore, parse_max_date

__all__ = [
    "OK",
    "PENDING",
    "CardQuery",
    "SqlStore",
    "get_engine",
    "normalize_url",
    "parse_max_date",
]
