"""Initial schema: card tables per registry and card tags.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from opsml.store._schema import METADATA

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables of schema version 0001.

    The first revision creates the tables straight from the schema module; later
    revisions must use explicit ``op`` calls so history stays reproducible.
    """
    METADATA.create_all(bind=op.get_bind())


def downgrade() -> None:
    """Drop every opsml table."""
    METADATA.drop_all(bind=op.get_bind())
