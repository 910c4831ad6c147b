"""Security: users, per-space permissions, API and refresh tokens, the audit log.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsml.store._schema import ascii_string

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the security tables."""
    op.create_table(
        "opsml_users",
        sa.Column("username", ascii_string(128), primary_key=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("token_version", sa.Integer, nullable=False),
        _when("created_at"),
        _when("updated_at"),
    )
    op.create_table(
        "opsml_permissions",
        sa.Column("username", ascii_string(128), primary_key=True),
        sa.Column("space", ascii_string(128), primary_key=True),
        sa.Column("can_read", sa.Boolean, nullable=False),
        sa.Column("can_write", sa.Boolean, nullable=False),
        sa.Column("can_delete", sa.Boolean, nullable=False),
    )
    op.create_table(
        "opsml_api_tokens",
        sa.Column("token_id", ascii_string(32), primary_key=True),
        sa.Column("username", ascii_string(128), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("token_hash", ascii_string(64), nullable=False),
        _when("created_at"),
        _when("expires_at", nullable=True),
        _when("revoked_at", nullable=True),
    )
    op.create_index("ix_opsml_api_tokens_user", "opsml_api_tokens", ["username"])
    op.create_table(
        "opsml_refresh_tokens",
        sa.Column("jti", ascii_string(64), primary_key=True),
        sa.Column("username", ascii_string(128), nullable=False),
        _when("expires_at"),
        _when("used_at", nullable=True),
    )
    op.create_index("ix_opsml_refresh_tokens_user", "opsml_refresh_tokens", ["username"])
    op.create_table(
        "opsml_audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        _when("created_at"),
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(512), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("client_address", sa.String(64), nullable=False),
        sa.Column("detail", sa.String(1024), nullable=False),
    )
    op.create_index("ix_opsml_audit_created", "opsml_audit_log", ["created_at"])
    op.create_index("ix_opsml_audit_user", "opsml_audit_log", ["username", "created_at"])
    op.create_index(
        "ix_opsml_audit_client", "opsml_audit_log", ["client_address", "operation", "created_at"]
    )


def downgrade() -> None:
    """Drop the security tables."""
    for table in (
        "opsml_audit_log",
        "opsml_refresh_tokens",
        "opsml_api_tokens",
        "opsml_permissions",
        "opsml_users",
    ):
        op.drop_table(table)
