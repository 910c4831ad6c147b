"""The runs table of the web UI: one row per experiment (status, start, end, duration, user)
and one summary row per experiment and metric name (latest, minimum, maximum, count), each
with the indexes its sorts need; filled from the cards and metric points already stored.

Revision ID: 0008_ui22
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from opsml.store._runs import backfill
from opsml.store._schema import ascii_string, exact_text

revision = "0008_ui22"
down_revision = "0007"
branch_labels = None
depends_on = None

_DOUBLE = sa.Float(precision=53).with_variant(mysql.DOUBLE(asdecimal=False), "mysql", "mariadb")
_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    """Create and fill the run and metric summary tables."""
    op.create_table(
        "opsml_experiment_runs",
        sa.Column("experiment_uid", ascii_string(36), primary_key=True),
        sa.Column("space", ascii_string(128), nullable=False),
        sa.Column("name", ascii_string(128), nullable=False),
        sa.Column("version", ascii_string(200), nullable=False),
        sa.Column("run_status", ascii_string(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration", _DOUBLE, nullable=False),
        sa.Column("username", exact_text(128), nullable=False),
    )
    runs = "opsml_experiment_runs"
    for name, columns in (
        ("space_start", ["space", "started_at"]),
        ("space_dur", ["space", "duration"]),
        ("name_start", ["space", "name", "started_at"]),
        ("name_dur", ["space", "name", "duration"]),
        ("start", ["started_at"]),
        ("dur", ["duration"]),
    ):
        op.create_index(f"ix_{runs}_{name}", runs, [*columns, "experiment_uid"])
    op.create_table(
        "opsml_experiment_metric_summary",
        sa.Column("experiment_uid", ascii_string(36), primary_key=True),
        sa.Column("metric", exact_text(255), primary_key=True),
        sa.Column("space", ascii_string(128), nullable=False),
        sa.Column("run_name", ascii_string(128), nullable=False),
        sa.Column("latest", _DOUBLE, nullable=False),
        sa.Column("latest_step", sa.BigInteger, nullable=False),
        sa.Column("latest_id", _ID, nullable=False),
        sa.Column("min", _DOUBLE, nullable=False),
        sa.Column("max", _DOUBLE, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    summary = "opsml_experiment_metric_summary"
    for stat in ("latest", "min", "max"):
        op.create_index(
            f"ix_opsml_metric_summary_space_{stat}",
            summary,
            ["space", "metric", stat, "experiment_uid"],
        )
        op.create_index(
            f"ix_opsml_metric_summary_{stat}", summary, ["metric", stat, "experiment_uid"]
        )
    backfill(op.get_bind())


def downgrade() -> None:
    """Drop the run and metric summary tables."""
    op.drop_table("opsml_experiment_metric_summary")
    op.drop_table("opsml_experiment_runs")
