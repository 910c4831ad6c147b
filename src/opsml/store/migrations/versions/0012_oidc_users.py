"""Single sign-on users: who a user is at the OpenID Connect provider (issuer and ``sub``
claim), so a user created at their first login is found again whatever their name there
becomes.

Revision ID: 0012_oidc_users
Revises: 0011_ops_lease
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsml.store._schema import ascii_string

revision = "0012_oidc_users"
down_revision = "0011_ops_lease"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the provider's issuer and subject to the users table (``NULL``: a local user)."""
    op.add_column("opsml_users", sa.Column("oidc_issuer", ascii_string(255), nullable=True))
    op.add_column("opsml_users", sa.Column("oidc_subject", ascii_string(255), nullable=True))
    op.create_index(
        "ix_opsml_users_oidc", "opsml_users", ["oidc_issuer", "oidc_subject"], unique=True
    )


def downgrade() -> None:
    """Drop the single sign-on columns."""
    op.drop_index("ix_opsml_users_oidc", table_name="opsml_users")
    with op.batch_alter_table("opsml_users") as batch:  # SQLite rebuilds the table
        batch.drop_column("oidc_subject")
        batch.drop_column("oidc_issuer")
