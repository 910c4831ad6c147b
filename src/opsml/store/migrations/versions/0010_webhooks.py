"""Webhooks: the registered endpoints, the outbox of deliveries and the attempts.

Revision ID: 0010_webhooks
Revises: 0009_kv_tags
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsml.store._schema import ascii_string, exact_text, long_text

revision = "0010_webhooks"
down_revision = "0009_kv_tags"
branch_labels = None
depends_on = None


def _big_id() -> sa.Column[int]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


def upgrade() -> None:
    """Create the webhook, outbox and attempt tables."""
    op.create_table(
        "opsml_webhooks",
        sa.Column("id", ascii_string(32), primary_key=True),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("secret", sa.String(256), nullable=False),
        sa.Column("events", sa.String(1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", exact_text(128), nullable=False),
    )
    op.create_table(
        "opsml_webhook_outbox",
        _big_id(),
        sa.Column("delivery_id", ascii_string(36), nullable=False, unique=True),
        sa.Column("webhook_id", ascii_string(32), nullable=False),
        sa.Column("event", ascii_string(64), nullable=False),
        sa.Column("order_key", ascii_string(400), nullable=False),
        sa.Column("payload", long_text(), nullable=False),
        sa.Column("status", ascii_string(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(1024), nullable=True),
    )
    op.create_index(
        "ix_opsml_webhook_outbox_due", "opsml_webhook_outbox", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_opsml_webhook_outbox_order",
        "opsml_webhook_outbox",
        ["webhook_id", "order_key", "status", "id"],
    )
    op.create_table(
        "opsml_webhook_attempts",
        _big_id(),
        sa.Column("delivery_id", ascii_string(36), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("latency_ms", sa.Integer, nullable=False),
        sa.Column("error", sa.String(1024), nullable=True),
    )
    op.create_index(
        "ix_opsml_webhook_attempts_delivery", "opsml_webhook_attempts", ["delivery_id", "id"]
    )


def downgrade() -> None:
    """Drop the webhook tables."""
    op.drop_table("opsml_webhook_attempts")
    op.drop_table("opsml_webhook_outbox")
    op.drop_table("opsml_webhooks")
