"""Registry aliases in SQL: set, delete and list, each move audited in its own transaction.

An alias row names the card uid it points at. Setting an alias is one transaction that
checks the target version is registered, locks the alias row, updates (or inserts) it and
appends a line to the audit log, so the move and its audit line exist together or not at
all; readers resolve ``@alias`` in the same statement that reads the card, so they see the
old or the new version, never none.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from opsml.errors import CardNotFoundError, MetadataStoreError
from opsml.store._auth import AUDIT_LOG
from opsml.store._errors import store_error
from opsml.store._outbox import Event, enqueue
from opsml.store._schema import ALIASES, card_table
from opsml.store._store import OK, SqlStore, _is_transient
from opsml.types import RegistryType
from opsml.version import Version

__all__ = ["ALIAS_DELETE", "ALIAS_SET", "AliasRow", "AliasStore", "Actor"]

ALIAS_SET = "alias set"
"""The audit log's ``operation`` of an alias move."""
ALIAS_DELETE = "alias delete"
"""The audit log's ``operation`` of an alias removal."""

_MAX_ATTEMPTS = 60
T = TypeVar("T")


@dataclass(frozen=True)
class Actor:
    """Who moves an alias, as the audit log records it."""

    username: str
    client_address: str = "local"


@dataclass(frozen=True)
class AliasRow:
    """An alias with the version it points at."""

    registry: RegistryType
    space: str
    name: str
    alias: str
    version: str
    uid: str
    updated_at: datetime
    updated_by: str

    def fields(self) -> dict[str, Any]:
        """The fields of the public :class:`~opsml.cards.CardAlias`."""
        return {
            "registry_type": self.registry.value,
            "space": self.space,
            "name": self.name,
            "alias": self.alias,
            "version": self.version,
            "uid": self.uid,
            "updated_at": self.updated_at.isoformat(),
            "updated_by": self.updated_by,
        }


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class AliasStore:
    """SQL operations on the alias table (same engine as the card store)."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def _transaction(self, fn: Callable[[Connection], T], what: str) -> T:
        """Run ``fn`` in one write transaction, again after a lost race (a concurrent
        insert of the same alias, a deadlock, a lock timeout), bounded."""
        last: Exception | None = None
        for attempt in range(_MAX_ATTEMPTS):
            try:
                with self._store._write() as conn, conn.begin():
                    return fn(conn)
            except IntegrityError as exc:  # another writer inserted the row first
                last = exc
            except OperationalError as exc:
                if not _is_transient(exc):
                    raise store_error(what, exc) from exc
                last = exc
            except SQLAlchemyError as exc:
                raise store_error(what, exc) from exc
            time.sleep(random.uniform(0.001, 0.004) * min(attempt + 1, 20))
        raise MetadataStoreError(f"{what}: gave up after {_MAX_ATTEMPTS} attempts") from last

    def set(
        self,
        registry: RegistryType,
        space: str,
        name: str,
        alias: str,
        version: Version,
        actor: Actor,
    ) -> AliasRow:
        """Point ``alias`` of (space, name) at ``version``, and audit the move.

        Raises:
            CardNotFoundError: ``version`` of (space, name) is not registered.
            MetadataStoreError: The database failed.
        """
        table = card_table(registry)
        target = str(version)
        key = _key(registry, space, name, alias)

        def run(conn: Connection) -> AliasRow:
            uid = conn.execute(
                select(table.c.uid).where(
                    table.c.space == space,
                    table.c.name == name,
                    table.c.version == target,
                    table.c.status == OK,
                )
            ).scalar_one_or_none()
            if uid is None:
                raise CardNotFoundError(
                    f"cannot point {space}/{name}@{alias} at version {target}: no "
                    f"{registry.value} card {space}/{name} v{target} is registered"
                )
            previous = conn.execute(
                select(ALIASES.c.uid).where(key).with_for_update()
            ).scalar_one_or_none()
            now = datetime.now(UTC)
            values = {"uid": uid, "updated_at": now, "updated_by": actor.username[:128]}
            if previous is None:
                conn.execute(
                    insert(ALIASES).values(
                        registry=registry.value, space=space, name=name, alias=alias, **values
                    )
                )
                before = "-"
            else:
                conn.execute(update(ALIASES).where(key).values(**values))
                before = _version_of(conn, registry, previous) or "-"
            _audit(conn, ALIAS_SET, registry, space, name, alias, f"{before} -> {target}", actor)
            moved = {"alias": alias, "from": None if before == "-" else before, "to": target}
            enqueue(conn, [Event("alias.moved", registry, space, name, target, str(uid), moved)])
            return AliasRow(registry, space, name, alias, target, str(uid), now, actor.username)

        return self._transaction(run, f"setting alias {space}/{name}@{alias}")

    def delete(
        self, registry: RegistryType, space: str, name: str, alias: str, actor: Actor
    ) -> None:
        """Remove an alias, and audit it.

        Raises:
            CardNotFoundError: No such alias.
        """
        key = _key(registry, space, name, alias)

        def run(conn: Connection) -> None:
            previous = conn.execute(
                select(ALIASES.c.uid).where(key).with_for_update()
            ).scalar_one_or_none()
            if previous is None:
                raise CardNotFoundError(
                    f"{registry.value} card {space}/{name} has no alias {alias!r}"
                )
            conn.execute(delete(ALIASES).where(key))
            before = _version_of(conn, registry, previous) or "-"
            _audit(conn, ALIAS_DELETE, registry, space, name, alias, f"{before} -> -", actor)
            removed = {"alias": alias, "from": None if before == "-" else before, "to": None}
            version = "" if before == "-" else before
            enqueue(conn, [Event("alias.moved", registry, space, name, version, previous, removed)])

        self._transaction(run, f"deleting alias {space}/{name}@{alias}")

    def list(
        self,
        registry: RegistryType,
        space: str | None = None,
        name: str | None = None,
        spaces: Sequence[str] | None = None,
        uids: Sequence[str] | None = None,
    ) -> list[AliasRow]:
        """Aliases with the versions they point at, by space, name and alias.

        Args:
            registry: The registry.
            space: Only this space.
            name: Only this name.
            spaces: Only these spaces (what the caller may read).
            uids: Only aliases pointing at these cards.
        """
        table = card_table(registry)
        stmt = (
            select(ALIASES, table.c.version)
            .join(table, and_(table.c.uid == ALIASES.c.uid, table.c.status == OK))
            .where(ALIASES.c.registry == registry.value)
            .order_by(ALIASES.c.space, ALIASES.c.name, ALIASES.c.alias)
        )
        if space is not None:
            stmt = stmt.where(ALIASES.c.space == space)
        if name is not None:
            stmt = stmt.where(ALIASES.c.name == name)
        if spaces is not None:
            stmt = stmt.where(ALIASES.c.space.in_(list(spaces)))
        if uids is not None:
            stmt = stmt.where(ALIASES.c.uid.in_(list(uids)))
        try:
            with self._store._read() as conn:
                rows = list(conn.execute(stmt))
        except SQLAlchemyError as exc:
            raise store_error(f"listing aliases of {registry.table_name}", exc) from exc
        return [
            AliasRow(
                registry,
                r.space,
                r.name,
                r.alias,
                r.version,
                r.uid,
                _aware(r.updated_at),
                r.updated_by,
            )
            for r in rows
        ]


def _key(registry: RegistryType, space: str, name: str, alias: str) -> Any:
    return and_(
        ALIASES.c.registry == registry.value,
        ALIASES.c.space == space,
        ALIASES.c.name == name,
        ALIASES.c.alias == alias,
    )


def _version_of(conn: Connection, registry: RegistryType, uid: str) -> str | None:
    table = card_table(registry)
    found = conn.execute(select(table.c.version).where(table.c.uid == uid)).scalar_one_or_none()
    return None if found is None else str(found)


def _audit(
    conn: Connection,
    operation: str,
    registry: RegistryType,
    space: str,
    name: str,
    alias: str,
    detail: str,
    actor: Actor,
) -> None:
    conn.execute(
        insert(AUDIT_LOG).values(
            created_at=datetime.now(UTC),
            username=actor.username[:128],
            operation=operation,
            resource=f"{registry.value}/{space}/{name}@{alias}",
            outcome="allowed",
            status_code=200,
            client_address=actor.client_address[:64],
            detail=detail[:1024],
        )
    )
