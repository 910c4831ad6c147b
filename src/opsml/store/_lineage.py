"""Reverse lineage: the registered cards that reference a card ("used by").

A card names what it was made from: a ModelCard its DataCard and ExperimentCard (columns of
the model table), an ExperimentCard the cards it produced and a ServiceCard the cards it
bundles (inside their stored JSON). This module answers the reverse question in SQL, one
statement per registry that can reference the card, restricted to the spaces the caller may
read, so the answer never names a card the caller could not open.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import SQLAlchemyError

from opsml._validation import check_uid
from opsml.store._errors import store_error
from opsml.store._schema import card_table
from opsml.store._store import OK, SqlStore
from opsml.types import RegistryType

__all__ = ["UsedBy", "used_by"]


@dataclass(frozen=True)
class UsedBy:
    """One card that references the card asked about."""

    registry: RegistryType
    uid: str
    space: str
    name: str
    version: str


# Who can reference a card of each registry, and how: a column of the referencing table
# (an exact, cheap match), or the referencing card's JSON (the uid as a JSON string).
_COLUMNS: dict[RegistryType, dict[RegistryType, str]] = {
    RegistryType.Data: {RegistryType.Model: "datacard_uid"},
    RegistryType.Experiment: {RegistryType.Model: "experimentcard_uid"},
}
_IN_JSON: dict[RegistryType, tuple[RegistryType, ...]] = {
    RegistryType.Data: (RegistryType.Experiment, RegistryType.Service),
    RegistryType.Model: (RegistryType.Experiment, RegistryType.Service),
    RegistryType.Prompt: (RegistryType.Experiment, RegistryType.Service),
    RegistryType.Experiment: (RegistryType.Experiment, RegistryType.Service),
    RegistryType.Service: (RegistryType.Experiment,),
}


def used_by(
    store: SqlStore,
    registry: RegistryType,
    uid: str,
    spaces: Collection[str] | None,
    limit: int = 100,
) -> list[UsedBy]:
    """The registered cards that reference card ``uid`` of ``registry``, newest first.

    Args:
        store: The metadata store.
        registry: The referenced card's registry.
        uid: The referenced card's uid.
        spaces: Only cards of these spaces (what the caller may read); ``None``: any.
        limit: At most this many cards per referencing registry.

    Raises:
        InvalidArgumentError: ``uid`` is not a card uid.
        MetadataStoreError: The database failed.
    """
    uid = check_uid(uid)
    if spaces is not None and not spaces:
        return []
    found: list[UsedBy] = []
    referencing = {*_COLUMNS.get(registry, {}), *_IN_JSON.get(registry, ())}
    for other in sorted(referencing, key=lambda r: r.value):
        table = card_table(other)
        conditions: list[ColumnElement[bool]] = []
        column = _COLUMNS.get(registry, {}).get(other)
        if column is not None:
            conditions.append(table.c[column] == uid)
        if other in _IN_JSON.get(registry, ()):
            # A uid holds only hex digits and dashes: nothing LIKE would read as a wildcard.
            conditions.append(table.c.card_json.like(f'%"{uid}"%'))
        stmt = (
            select(table.c.uid, table.c.space, table.c.name, table.c.version)
            .where(table.c.status == OK, table.c.uid != uid, or_(*conditions))
            .order_by(table.c.created_at.desc())
            .limit(limit)
        )
        if spaces is not None:
            stmt = stmt.where(table.c.space.in_(sorted(spaces)))
        try:
            with store._read() as conn:
                rows = conn.execute(stmt).all()
        except SQLAlchemyError as exc:
            raise store_error(
                f"finding the cards that use {registry.value} card {uid}", exc
            ) from exc
        found.extend(UsedBy(other, r.uid, r.space, r.name, r.version) for r in rows)
    return found
