"""Encryption at rest: the wrapped data key of each encrypted card.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsml.store._schema import ascii_string

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the key table."""
    op.create_table(
        "opsml_artifact_keys",
        sa.Column("prefix", ascii_string(1024), primary_key=True),
        sa.Column("key_id", ascii_string(32), nullable=False),
        sa.Column("wrapped", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop the key table."""
    op.drop_table("opsml_artifact_keys")
