"""Registry aliases: ``(registry, space, name, alias)`` pointing at one card uid.

Revision ID: 0008_card_aliases
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsml.store._schema import ascii_string, exact_text

revision = "0008_card_aliases"
down_revision = "0008_ui22"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the alias table."""
    op.create_table(
        "opsml_card_aliases",
        sa.Column("registry", ascii_string(32), primary_key=True),
        sa.Column("space", ascii_string(128), primary_key=True),
        sa.Column("name", ascii_string(128), primary_key=True),
        sa.Column("alias", ascii_string(64), primary_key=True),
        sa.Column("uid", ascii_string(36), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", exact_text(128), nullable=False),
    )
    op.create_index("ix_opsml_card_aliases_uid", "opsml_card_aliases", ["registry", "uid"])


def downgrade() -> None:
    """Drop the alias table."""
    op.drop_index("ix_opsml_card_aliases_uid", table_name="opsml_card_aliases")
    op.drop_table("opsml_card_aliases")
