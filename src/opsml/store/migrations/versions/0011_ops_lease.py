"""Job leases: which server replica runs a background job (the scheduled gc) now, and when
it is due next, so N replicas run it once.

Revision ID: 0011_ops_lease
Revises: 0010_webhooks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsml.store._schema import ascii_string

revision = "0011_ops_lease"
down_revision = "0010_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the lease table (rows appear when a job first runs)."""
    op.create_table(
        "opsml_ops_leases",
        sa.Column("name", ascii_string(64), primary_key=True),
        sa.Column("holder", ascii_string(255), nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("next_run_at", sa.BigInteger, nullable=False),
        sa.Column("last_finished_at", sa.BigInteger, nullable=False),
        sa.Column("last_outcome", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    """Drop the lease table."""
    op.drop_table("opsml_ops_leases")
