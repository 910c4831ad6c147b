"""Read-only queries for browsing the registry (the web UI): spaces, the card names of a
space, and pages of cards. Each page is found through an index with keyset pagination, so a
page costs the same whether the registry holds a hundred cards or a hundred thousand.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, exists, func, or_, select
from sqlalchemy.exc import SQLAlchemyError

from opsml.store._errors import store_error
from opsml.store._schema import CARD_REGISTRIES, TAGS, card_table
from opsml.store._store import OK, CardQuery, SqlStore
from opsml.types import RegistryType

__all__ = ["NameSummary", "SpaceSummary", "card_names", "card_page", "space_summaries"]


@dataclass
class SpaceSummary:
    """One space and the registries that hold cards in it."""

    space: str
    registries: set[RegistryType] = field(default_factory=set)


@dataclass(frozen=True)
class NameSummary:
    """One card name in a space: how many versions it has and when the last was registered."""

    space: str
    name: str
    versions: int
    last_created: datetime


def space_summaries(
    store: SqlStore, after: str | None = None, limit: int = 50
) -> list[SpaceSummary]:
    """Spaces in name order, starting after ``after``, with the registries holding cards there.

    Each registry is read with a loose index scan (one index seek per distinct space), so a
    page costs the same however many cards a space holds.

    Args:
        store: The metadata store.
        after: The last space of the previous page (``None`` for the first page).
        limit: Spaces per page.

    Raises:
        MetadataStoreError: The database failed.
    """
    found: dict[str, SpaceSummary] = {}
    try:
        with store.engine.connect() as conn:
            for registry in CARD_REGISTRIES:
                table = card_table(registry)
                # The status test is wrapped in a function so no planner picks the
                # (status, created_at) index and sorts every card: the scan walks the
                # (space, ...) index and stops at the first ok card.
                is_ok = func.coalesce(table.c.status, "") == OK
                current = after
                for _ in range(limit):
                    stmt = select(table.c.space).where(is_ok)
                    if current is not None:
                        stmt = stmt.where(table.c.space > current)
                    current = conn.execute(stmt.order_by(table.c.space).limit(1)).scalar()
                    if current is None:
                        break
                    found.setdefault(current, SpaceSummary(current)).registries.add(registry)
    except SQLAlchemyError as exc:
        raise store_error("listing spaces", exc) from exc
    return [found[space] for space in sorted(found)[:limit]]


def card_page(
    store: SqlStore, registry: RegistryType, query: CardQuery, after_uid: str | None
) -> list[Row[Any]]:
    """One page of ``list_cards`` results (summary rows), continuing after the card
    ``after_uid`` (keyset pagination: the cost does not grow with the page number).

    The order is newest first, or highest version first when ``query`` names both a space
    and a name (``query.sort_by_timestamp`` must say which).

    Raises:
        CardNotFoundError: ``after_uid`` is not a card of this registry.
        MetadataStoreError: The database failed.
    """
    table = card_table(registry)
    stmt, params = store._select(registry, replace(query, tags=()), summary=True)
    for tag in dict.fromkeys(query.tags):
        # One primary-key probe per candidate card: the scan stops once the page is full,
        # instead of first collecting every card that carries a common tag.
        stmt = stmt.where(
            exists().where(
                TAGS.c.registry == registry.value, TAGS.c.uid == table.c.uid, TAGS.c.tag == tag
            )
        )
    if after_uid is not None:
        last = store.get(registry, after_uid)
        if query.sort_by_timestamp:
            stmt = stmt.where(
                or_(
                    table.c.created_at < last.created_at,
                    and_(table.c.created_at == last.created_at, table.c.uid < last.uid),
                )
            )
        else:
            keys = [table.c.major, table.c.minor, table.c.patch, table.c.pre_key, table.c.build_key]
            values = [last.major, last.minor, last.patch, last.pre_key, last.build_key]
            # (k1, ..., k5) < (v1, ..., v5), written with AND/OR for every database.
            condition: ColumnElement[bool] = keys[-1] < values[-1]
            for key, value in zip(reversed(keys[:-1]), reversed(values[:-1]), strict=True):
                condition = or_(key < value, and_(key == value, condition))
            stmt = stmt.where(condition)
    try:
        with store.engine.connect() as conn:
            return list(conn.execute(stmt, params))
    except SQLAlchemyError as exc:
        raise store_error(f"listing {registry.value} cards", exc) from exc


def card_names(
    store: SqlStore,
    registry: RegistryType,
    space: str,
    after: str | None = None,
    limit: int = 50,
) -> list[NameSummary]:
    """Card names of ``registry`` in ``space`` in name order, starting after ``after``.

    Args:
        store: The metadata store.
        registry: The registry.
        space: The space.
        after: The last name of the previous page (``None`` for the first page).
        limit: Names per page.

    Raises:
        MetadataStoreError: The database failed.
    """
    table = card_table(registry)
    stmt = select(table.c.name, func.count(), func.max(table.c.created_at)).where(
        table.c.space == space, table.c.status == OK
    )
    if after is not None:
        stmt = stmt.where(table.c.name > after)
    stmt = stmt.group_by(table.c.name).order_by(table.c.name).limit(limit)
    try:
        with store.engine.connect() as conn:
            rows = list(conn.execute(stmt))
    except SQLAlchemyError as exc:
        raise store_error(f"listing {registry.value} cards", exc) from exc
    return [NameSummary(space, name, int(count), _utc(last)) for name, count, last in rows]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
