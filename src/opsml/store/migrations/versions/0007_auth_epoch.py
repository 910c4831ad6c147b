"""The security epoch: one counter every change of users, permissions or tokens bumps, so a
server that remembers verified tokens knows with one read whether they still hold.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the epoch table with its one row."""
    table = op.create_table(
        "opsml_auth_epoch",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("epoch", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(table, [{"id": 1, "epoch": 0}])


def downgrade() -> None:
    """Drop the epoch table."""
    op.drop_table("opsml_auth_epoch")
