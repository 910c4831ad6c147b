"""Key/value tags: a ``key:value`` or ``key=value`` tag is indexed under both spellings, and
the tag index covers the uid (a tag filter reads the index only).

Adds the missing spelling of every key/value tag already in the tag table (see
``opsml.store._tags``), so ``list_cards(tags={"team": "search"})`` finds cards registered
before this revision too. The cards' own tags (their JSON) are not touched. The downgrade
removes the index rows that are not tags of their card as written.

Revision ID: 0009_kv_tags
Revises: 0008_card_aliases
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from opsml.store._schema import CARD_REGISTRIES, TAGS, card_table
from opsml.store._tags import indexed_tags, tag_pair

revision = "0009_kv_tags"
down_revision = "0008_card_aliases"
branch_labels = None
depends_on = None

_BATCH = 1000
_TAGS = TAGS  # the table as revision 0006 left it (its types decode MySQL's bytes)


def _rows_by_card() -> dict[tuple[str, str], list[str]]:
    cards: dict[tuple[str, str], list[str]] = {}
    for registry, uid, tag in op.get_bind().execute(
        sa.select(_TAGS.c.registry, _TAGS.c.uid, _TAGS.c.tag)
    ):
        cards.setdefault((str(registry), str(uid)), []).append(str(tag))
    return cards


def _tag_index(columns: list[str]) -> None:
    op.drop_index("ix_opsml_card_tags_tag", table_name="opsml_card_tags")
    op.create_index("ix_opsml_card_tags_tag", "opsml_card_tags", columns)


def upgrade() -> None:
    """Index the other spelling of every key/value tag; the tag index covers the uid."""
    _tag_index(["registry", "tag", "uid"])
    missing = [
        {"registry": registry, "uid": uid, "tag": tag}
        for (registry, uid), tags in _rows_by_card().items()
        if any(tag_pair(t) is not None for t in tags)
        for tag in indexed_tags(tags)
        if tag not in tags
    ]
    for start in range(0, len(missing), _BATCH):
        op.bulk_insert(_TAGS, missing[start : start + _BATCH])


def downgrade() -> None:
    """Keep only the tags each card carries as written; the tag index as before."""
    _tag_index(["registry", "tag"])
    bind = op.get_bind()
    for registry in CARD_REGISTRIES:
        table = card_table(registry)
        for uid, tags_json in bind.execute(sa.select(table.c.uid, table.c.tags)):
            written = json.loads(tags_json or "[]")
            bind.execute(
                sa.delete(_TAGS).where(
                    _TAGS.c.registry == registry.value,
                    _TAGS.c.uid == uid,
                    _TAGS.c.tag.not_in(written) if written else sa.true(),
                )
            )
