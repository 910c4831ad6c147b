"""The SQL metadata store (SQLAlchemy 2, Alembic migrations applied automatically)."""

from __future__ import annotations

from opsml.store._engine import normalize_url, open_engine
from opsml.store._store import OK, PENDING, CardQuery, SqlStore, parse_max_date

__all__ = [
    "OK",
    "PENDING",
    "CardQuery",
    "SqlStore",
    "normalize_url",
    "open_engine",
    "parse_max_date",
]
