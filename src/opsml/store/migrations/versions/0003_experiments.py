"""Experiment tracking: metrics, parameters and hardware samples.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from opsml.store._schema import ascii_string, long_text

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    """Create the experiment tracking tables."""
    op.create_table(
        "opsml_experiment_metrics",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("experiment_uid", ascii_string(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column(
            "value",
            sa.Float(precision=53).with_variant(mysql.DOUBLE(), "mysql", "mariadb"),
            nullable=False,
        ),
        sa.Column("step", sa.BigInteger, nullable=True),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("is_eval", sa.Boolean, nullable=False),
    )
    op.create_index(
        "ix_opsml_experiment_metrics_uid", "opsml_experiment_metrics", ["experiment_uid", "id"]
    )
    op.create_table(
        "opsml_experiment_parameters",
        sa.Column("experiment_uid", ascii_string(36), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("value", long_text(), nullable=False),
    )
    op.create_table(
        "opsml_experiment_hardware",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("experiment_uid", ascii_string(36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sample", long_text(), nullable=False),
    )
    op.create_index(
        "ix_opsml_experiment_hardware_uid", "opsml_experiment_hardware", ["experiment_uid", "id"]
    )


def downgrade() -> None:
    """Drop the experiment tracking tables."""
    for table in (
        "opsml_experiment_hardware",
        "opsml_experiment_parameters",
        "opsml_experiment_metrics",
    ):
        op.drop_table(table)
