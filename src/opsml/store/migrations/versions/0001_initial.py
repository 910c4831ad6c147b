"""Initial schema: card tables per registry and card tags.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from typing import Any

from alembic import op

from opsml.store._schema import CARD_REGISTRIES, TAGS, card_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables of schema version 0001.

    The first revision creates its tables straight from the schema module (only these: the
    same metadata object holds the tables of later revisions); later revisions must use
    explicit ``op`` calls so history stays reproducible.
    """
    for table in _tables():
        table.create(bind=op.get_bind())


def downgrade() -> None:
    """Drop the tables of schema version 0001."""
    for table in reversed(_tables()):
        table.drop(bind=op.get_bind())


def _tables() -> list[Any]:
    return [*(card_table(registry) for registry in CARD_REGISTRIES), TAGS]
