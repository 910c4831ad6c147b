"""Read-only queries for browsing the registry (the web UI): spaces, the card names of a
space, and pages of cards. Each page is found through an index with keyset pagination, so a
page costs the same whether the registry holds a hundred cards or a hundred thousand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, exists, func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import BindParameter

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
    store: SqlStore,
    registry: RegistryType,
    query: CardQuery,
    after_uid: str | None,
    contains: Sequence[tuple[str, str]] = (),
) -> list[Any]:
    """One page of ``list_cards`` results (summary rows), continuing after the card
    ``after_uid`` (keyset pagination: the cost does not grow with the page number).

    The order is newest first, or highest version first when ``query`` names both a space
    and a name (``query.sort_by_timestamp`` must say which).

    ``contains`` adds substring conditions: ``("space", text)``, ``("name", text)`` or
    ``("any", text)`` (space or name), each matched case-insensitively for the lowercase
    names opsml stores.

    Raises:
        CardNotFoundError: ``after_uid`` is not a card of this registry.
        MetadataStoreError: The database failed.
    """
    table = card_table(registry)
    untagged = replace(query, tags=())
    stmt, values, shape = store._select(registry, untagged, summary=True)
    tags = tuple(dict.fromkeys(query.tags))
    values |= {f"page_tag_{i}": tag for i, tag in enumerate(tags)}
    fields = tuple(kind for kind, _ in contains)
    values |= {f"contains_{i}": f"%{_like(text)}%" for i, (_, text) in enumerate(contains)}
    last = store.get(registry, after_uid) if after_uid is not None else None
    if last is not None:
        values |= {f"after_{key}": getattr(last, key) for key in _KEYSET}

    def build() -> Select[Any]:
        page = stmt
        for i in range(len(tags)):
            # One primary-key probe per candidate card: the scan stops once the page is
            # full, instead of first collecting every card that carries a common tag.
            page = page.where(
                exists().where(
                    TAGS.c.registry == registry.value,
                    TAGS.c.uid == table.c.uid,
                    TAGS.c.tag == bindparam(f"page_tag_{i}"),
                )
            )
        for i, field_name in enumerate(fields):
            pattern: BindParameter[str] = bindparam(f"contains_{i}")
            columns = (
                [table.c.space, table.c.name] if field_name == "any" else [table.c[field_name]]
            )
            page = page.where(or_(*(c.like(pattern, escape="\\") for c in columns)))
        if last is None:
            return page
        after: dict[str, Any] = {key: bindparam(f"after_{key}") for key in _KEYSET}
        if query.sort_by_timestamp:
            return page.where(
                or_(
                    table.c.created_at < after["created_at"],
                    and_(table.c.created_at == after["created_at"], table.c.uid < after["uid"]),
                )
            )
        keys = ["major", "minor", "patch", "pre_key", "build_key"]
        # (k1, ..., k5) < (v1, ..., v5), written with AND/OR for every database.
        condition: ColumnElement[bool] = table.c[keys[-1]] < after[keys[-1]]
        for key in reversed(keys[:-1]):
            condition = or_(table.c[key] < after[key], and_(table.c[key] == after[key], condition))
        return page.where(condition)

    return store._read_prepared(
        ("card_page", shape, len(tags), last is not None, fields),
        build,
        values,
        f"listing {registry.value} cards",
    )


def _like(text: str) -> str:
    """``text`` for a LIKE pattern: lowercase, its wildcards and escape character escaped."""
    return text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_KEYSET = ("created_at", "uid", "major", "minor", "patch", "pre_key", "build_key")


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
