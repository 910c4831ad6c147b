"""SQL schema of the metadata store: one table per card registry, plus card tags.

Version columns are numeric (major, minor, patch) plus the prerelease/build text and two
order keys (hex strings whose lexicographic order is SemVer order), so every version filter
and sort runs in SQL on an index. Keep in sync with the Alembic migrations in
``migrations/versions``.

Every column that is matched or sorted on (ids, names, versions and their keys, tags,
usernames) is declared with :func:`ascii_string` or :func:`exact_text`, which compare and
order byte for byte on every backend, as SQLite does: VARBINARY on MySQL/MariaDB (whose text
collations fold case and pad trailing spaces) and ``COLLATE "C"`` on PostgreSQL (whose
database collation may order ``RC`` after ``rc`` and ``a_b`` before ``a-b``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

from opsml.types import RegistryType

__all__ = [
    "ALIASES",
    "CARD_REGISTRIES",
    "METADATA",
    "NAME_LEN",
    "TAGS",
    "VERSION_LEN",
    "ascii_string",
    "card_table",
    "exact_text",
    "long_text",
]

NAME_LEN = 128
VERSION_LEN = 200
KEY_LEN = 300
UID_LEN = 36
TAG_LEN = 255

CARD_REGISTRIES: tuple[RegistryType, ...] = (
    RegistryType.Data,
    RegistryType.Model,
    RegistryType.Experiment,
    RegistryType.Prompt,
    RegistryType.Service,
)

METADATA = MetaData()


class _Utf8Bytes(TypeDecorator[str]):
    """A string kept as its UTF-8 bytes in a VARBINARY column (MySQL/MariaDB).

    Bytes compare byte for byte: no case or accent folding, no trailing-space padding (even
    the ``_bin`` collations of MySQL and MariaDB ignore trailing spaces).
    """

    impl = mysql.VARBINARY
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> bytes | None:
        return None if value is None else value.encode("utf-8")

    def process_result_value(self, value: bytes | str | None, dialect: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return bytes(value).decode("utf-8")


def _exact(length: int, mysql_bytes: int) -> TypeEngine[str]:
    return (
        String(length)
        .with_variant(String(length, collation="C"), "postgresql")
        .with_variant(_Utf8Bytes(mysql_bytes), "mysql", "mariadb")
    )


def ascii_string(length: int) -> TypeEngine[str]:
    """A key of up to ``length`` ASCII characters (ids, names, versions, order keys), compared
    and ordered byte for byte on every backend.

    SQLite compares bytes already; MySQL/MariaDB get a ``VARBINARY(length)``, PostgreSQL a
    ``VARCHAR(length) COLLATE "C"``.
    """
    return _exact(length, length)


def exact_text(length: int) -> TypeEngine[str]:
    """Free text of up to ``length`` characters (tags, usernames, metric names), compared and
    ordered by its UTF-8 bytes on every backend.

    MySQL/MariaDB get a ``VARBINARY(4 * length)`` holding UTF-8, PostgreSQL a
    ``VARCHAR(length) COLLATE "C"``; ``"Prod"``, ``"prod"`` and ``"prod "`` stay three values.
    """
    return _exact(length, 4 * length)


def long_text() -> TypeEngine[str]:
    """TEXT that holds megabytes on every backend (MySQL's TEXT stops at 64 KB)."""
    return Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def _card_table(registry: RegistryType) -> Table:
    name = registry.table_name
    return Table(
        name,
        METADATA,
        Column("uid", ascii_string(UID_LEN), primary_key=True),
        Column("space", ascii_string(NAME_LEN), nullable=False),
        Column("name", ascii_string(NAME_LEN), nullable=False),
        Column("version", ascii_string(VERSION_LEN), nullable=False),
        Column("major", Integer, nullable=False),
        Column("minor", Integer, nullable=False),
        Column("patch", Integer, nullable=False),
        Column("pre_release", ascii_string(VERSION_LEN), nullable=False, default=""),
        Column("build", ascii_string(VERSION_LEN), nullable=False, default=""),
        Column("pre_key", ascii_string(KEY_LEN), nullable=False),
        Column("build_key", ascii_string(KEY_LEN), nullable=False),
        Column("status", ascii_string(16), nullable=False),
        Column("owner", String(255), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("app_env", String(64), nullable=False),
        Column("storage_path", String(1024), nullable=False),
        Column("interface_type", String(128), nullable=True),
        Column("data_type", String(64), nullable=True),
        Column("model_type", String(64), nullable=True),
        Column("task_type", String(64), nullable=True),
        Column("datacard_uid", ascii_string(UID_LEN), nullable=True),
        Column("experimentcard_uid", ascii_string(UID_LEN), nullable=True),
        Column("opsml_version", String(32), nullable=False),
        Column("tags", long_text(), nullable=False, default="[]"),
        Column("card_json", long_text(), nullable=False),
        Column("manifest_json", long_text(), nullable=False),
        UniqueConstraint("space", "name", "version", name=f"uq_{name}_space_name_version"),
        Index(
            f"ix_{name}_lookup",
            "space",
            "name",
            "status",
            "major",
            "minor",
            "patch",
            "pre_key",
            "build_key",
        ),
        Index(f"ix_{name}_name", "name", "status"),
        Index(f"ix_{name}_created", "status", "created_at"),
    )


_TABLES = {registry: _card_table(registry) for registry in CARD_REGISTRIES}

TAGS = Table(
    "opsml_card_tags",
    METADATA,
    Column("registry", ascii_string(32), primary_key=True),
    Column("uid", ascii_string(UID_LEN), primary_key=True),
    Column("tag", exact_text(TAG_LEN), primary_key=True),
    # (registry, tag) finds the cards carrying a tag; with uid, without reading the rows.
    Index("ix_opsml_card_tags_tag", "registry", "tag", "uid"),
)


def card_table(registry: RegistryType) -> Table:
    """Return the table holding ``registry``'s cards."""
    return _TABLES[registry]


ALIASES = Table(
    "opsml_card_aliases",
    METADATA,
    Column("registry", ascii_string(32), primary_key=True),
    Column("space", ascii_string(NAME_LEN), primary_key=True),
    Column("name", ascii_string(NAME_LEN), primary_key=True),
    Column("alias", ascii_string(64), primary_key=True),
    Column("uid", ascii_string(UID_LEN), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", exact_text(128), nullable=False),
    Index("ix_opsml_card_aliases_uid", "registry", "uid"),
)
"""One row per alias: (registry, space, name, alias) points at the card ``uid``; moving an
alias is one ``UPDATE`` of its row, so a reader sees the old or the new card, never none."""
