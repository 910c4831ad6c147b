"""Wrapped data keys of encrypted cards, one per card storage prefix."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, String, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlalchemy.exc import SQLAlchemyError

from opsml.errors import MetadataStoreError
from opsml.store._errors import store_error
from opsml.store._schema import METADATA, ascii_string
from opsml.store._store import SqlStore

__all__ = ["ARTIFACT_KEYS", "KeyStore"]

ARTIFACT_KEYS = Table(
    "opsml_artifact_keys",
    METADATA,
    Column("prefix", ascii_string(1024), primary_key=True),
    Column("key_id", ascii_string(32), nullable=False),
    Column("wrapped", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


class KeyStore:
    """Stores ``(key_id, wrapped key)`` per card prefix; never a plaintext key."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def get(self, prefix: str) -> tuple[str, str] | None:
        """``(key_id, wrapped)`` of a card, or ``None``."""
        stmt = select(ARTIFACT_KEYS).where(ARTIFACT_KEYS.c.prefix == prefix)
        try:
            with self._store._read() as conn:
                row = conn.execute(stmt).first()
        except SQLAlchemyError as exc:
            raise store_error(f"reading the key of {prefix}", exc) from exc
        return None if row is None else (str(row.key_id), str(row.wrapped))

    def add(self, prefix: str, key_id: str, wrapped: str) -> bool:
        """Store a new card key; ``False`` if the card already has one (keep that one)."""
        now = datetime.now(UTC)
        values = {
            "prefix": prefix,
            "key_id": key_id,
            "wrapped": wrapped,
            "created_at": now,
            "updated_at": now,
        }
        try:
            self._store._retrying(lambda c: c.execute(insert(ARTIFACT_KEYS).values(**values)), "")
        except MetadataStoreError as exc:
            if isinstance(exc.__cause__, SqlIntegrityError):
                return False
            raise
        return True

    def replace(self, prefix: str, key_id: str, wrapped: str) -> None:
        """Re-wrap a card's key (master key rotation)."""
        stmt = (
            update(ARTIFACT_KEYS)
            .where(ARTIFACT_KEYS.c.prefix == prefix)
            .values(key_id=key_id, wrapped=wrapped, updated_at=datetime.now(UTC))
        )
        self._store._retrying(lambda c: c.execute(stmt), f"re-wrapping the key of {prefix}")

    def delete(self, prefix: str) -> None:
        """Forget a card's key (its files can no longer be decrypted)."""
        stmt = delete(ARTIFACT_KEYS).where(ARTIFACT_KEYS.c.prefix == prefix)
        self._store._retrying(lambda c: c.execute(stmt), f"deleting the key of {prefix}")

    def not_wrapped_by(self, key_id: str, limit: int = 500) -> list[Any]:
        """Rows wrapped by another master key than ``key_id``."""
        stmt = select(ARTIFACT_KEYS).where(ARTIFACT_KEYS.c.key_id != key_id).limit(limit)
        try:
            with self._store._read() as conn:
                return list(conn.execute(stmt))
        except SQLAlchemyError as exc:
            raise store_error("listing card keys to re-wrap", exc) from exc
