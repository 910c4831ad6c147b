"""Keys and tags compare and sort byte for byte on MySQL/MariaDB and PostgreSQL, as on SQLite.

MySQL/MariaDB: tags and audit-log usernames were VARCHARs in the table's (case-folding)
collation, so a card could not carry both ``Prod`` and ``prod`` and a filter on ``prod``
returned cards tagged ``Prod``; ids, names, versions and their order keys were ``ascii_bin``,
which still ignores trailing spaces (``load_card(uid="<uid> ")`` found the card). All of them
become VARBINARY holding UTF-8 (four bytes per character for free text).

PostgreSQL: equality was already exact, but ``ORDER BY`` and ``>`` followed the database's
collation, which under e.g. ``en-US`` puts ``a_b`` before ``a-b`` and ``rc`` before ``RC``
(Python and SQLite order by code point); the same columns get ``COLLATE "C"``.

Only columns not converted yet are altered (databases created by this release already have
the new types), with one ``ALTER TABLE`` per table. Data is kept: the new comparisons only
tell apart more values than the old ones, so no key can collide. SQLite is left as it is.
The downgrade fails if the data has come to hold values the old collation merges (tags
``Prod`` and ``prod`` on one card).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_CARD_TABLES = (
    "opsml_data_registry",
    "opsml_model_registry",
    "opsml_experiment_registry",
    "opsml_prompt_registry",
    "opsml_service_registry",
)
_CARD_KEYS = (
    ("uid", 36),
    ("space", 128),
    ("name", 128),
    ("version", 200),
    ("pre_release", 200),
    ("build", 200),
    ("pre_key", 300),
    ("build_key", 300),
    ("status", 16),
)
_OPTIONAL_CARD_KEYS = (("datacard_uid", 36), ("experimentcard_uid", 36))

# table -> [(column, characters, nullable, kind)]; kind "ascii": a key of ASCII characters,
# "text": free text (up to four UTF-8 bytes a character), "name": free text that is already
# VARBINARY on MySQL/MariaDB (revision 0005).
_Column = tuple[str, int, bool, str]
_COLUMNS: dict[str, list[_Column]] = {
    **{
        table: [
            *((column, size, False, "ascii") for column, size in _CARD_KEYS),
            *((column, size, True, "ascii") for column, size in _OPTIONAL_CARD_KEYS),
        ]
        for table in _CARD_TABLES
    },
    "opsml_card_tags": [
        ("registry", 32, False, "ascii"),
        ("uid", 36, False, "ascii"),
        ("tag", 255, False, "text"),
    ],
    "opsml_users": [("username", 128, False, "ascii")],
    "opsml_permissions": [("username", 128, False, "ascii"), ("space", 128, False, "ascii")],
    "opsml_api_tokens": [
        ("token_id", 32, False, "ascii"),
        ("username", 128, False, "ascii"),
        ("token_hash", 64, False, "ascii"),
    ],
    "opsml_refresh_tokens": [("jti", 64, False, "ascii"), ("username", 128, False, "ascii")],
    "opsml_audit_log": [("username", 128, False, "text")],
    "opsml_artifact_keys": [("prefix", 1024, False, "ascii"), ("key_id", 32, False, "ascii")],
    "opsml_experiment_metrics": [
        ("experiment_uid", 36, False, "ascii"),
        ("name", 255, False, "name"),
    ],
    "opsml_experiment_parameters": [
        ("experiment_uid", 36, False, "ascii"),
        ("name", 255, False, "name"),
    ],
    "opsml_experiment_hardware": [("experiment_uid", 36, False, "ascii")],
}


def _mysql_type(size: int, kind: str, exact: bool) -> str:
    if exact:
        return f"VARBINARY({4 * size if kind == 'text' else size})"
    if kind == "ascii":
        return f"VARCHAR({size}) CHARACTER SET ascii COLLATE ascii_bin"
    return f"VARCHAR({size})"  # the table's character set and collation


def _convert(exact: bool) -> None:
    """Alter every listed column that is not in the wanted state yet (``exact``: the new
    types; otherwise those of revision 0005)."""
    bind = op.get_bind()
    dialect = bind.dialect.name
    if dialect in ("mysql", "mariadb"):
        current = {
            (table, column): data_type.lower() == "varbinary"
            for table, column, data_type in bind.execute(
                text(
                    "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS"
                    " WHERE TABLE_SCHEMA = DATABASE()"
                )
            )
        }
        for table, columns in _COLUMNS.items():
            clauses = [
                f"MODIFY `{column}` {_mysql_type(size, kind, exact)}"
                f" {'NULL' if nullable else 'NOT NULL'}"
                for column, size, nullable, kind in columns
                if kind != "name" and current[(table, column)] != exact
            ]
            if clauses:
                op.execute(f"ALTER TABLE `{table}` " + ", ".join(clauses))
    elif dialect == "postgresql":
        current = {
            (table, column): collation == "C"
            for table, column, collation in bind.execute(
                text(
                    "SELECT table_name, column_name, collation_name"
                    " FROM information_schema.columns WHERE table_schema = current_schema()"
                )
            )
        }
        collation = '"C"' if exact else '"default"'
        for table, columns in _COLUMNS.items():
            clauses = [
                f'ALTER COLUMN "{column}" TYPE VARCHAR({size}) COLLATE {collation}'
                for column, size, _nullable, _kind in columns
                if current[(table, column)] != exact
            ]
            if clauses:
                op.execute(f'ALTER TABLE "{table}" ' + ", ".join(clauses))


def upgrade() -> None:
    """Exact types: VARBINARY on MySQL/MariaDB, ``COLLATE "C"`` on PostgreSQL."""
    _convert(exact=True)


def downgrade() -> None:
    """Back to the VARCHARs of revision 0005 in their old collations."""
    _convert(exact=False)
