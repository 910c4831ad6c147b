"""Experiment metric and parameter names compare exactly on MySQL/MariaDB.

Their default collations fold case, accents and trailing spaces, so the parameters ``lr``
and ``LR`` collided; the names become VARBINARY holding UTF-8. Other databases already
compare exactly and are left as they are.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TABLES = ("opsml_experiment_metrics", "opsml_experiment_parameters")


def _is_mysql() -> bool:
    return op.get_bind().dialect.name in ("mysql", "mariadb")


def upgrade() -> None:
    """Turn the name columns into VARBINARY (MySQL/MariaDB only)."""
    if _is_mysql():
        for table in _TABLES:
            op.alter_column(
                table,
                "name",
                type_=mysql.VARBINARY(1020),
                existing_type=sa.String(255),
                existing_nullable=False,
            )


def downgrade() -> None:
    """Back to VARCHAR in the table's character set (MySQL/MariaDB only)."""
    if _is_mysql():
        for table in _TABLES:
            op.alter_column(
                table,
                "name",
                type_=sa.String(255),
                existing_type=mysql.VARBINARY(1020),
                existing_nullable=False,
            )
