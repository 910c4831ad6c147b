"""SQL schema of the metadata store: one table per card registry, plus card tags.

Version columns are numeric (major, minor, patch) plus the prerelease/build text and two
order keys (hex strings whose lexicographic order is SemVer order), so every version filter
and sort runs in SQL on an index. Keep in sync with the Alembic migrations in
``migrations/versions``.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

from opsml.types import RegistryType

__all__ = [
    "CARD_REGISTRIES",
    "METADATA",
    "NAME_LEN",
    "TAGS",
    "VERSION_LEN",
    "ascii_string",
    "card_table",
    "long_text",
]

NAME_LEN = 128
VERSION_LEN = 200
KEY_LEN = 300
UID_LEN = 36

CARD_REGISTRIES: tuple[RegistryType, ...] = (
    RegistryType.Data,
    RegistryType.Model,
    RegistryType.Experiment,
    RegistryType.Prompt,
    RegistryType.Service,
)

METADATA = MetaData()


def ascii_string(length: int) -> TypeEngine[str]:
    """A VARCHAR of ASCII with binary collation on MySQL/MariaDB (short index keys)."""
    return String(length).with_variant(
        mysql.VARCHAR(length, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
    )


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
    Column("tag", String(255), primary_key=True),
    Index("ix_opsml_card_tags_tag", "registry", "tag"),
)


def card_table(registry: RegistryType) -> Table:
    """Return the table holding ``registry``'s cards."""
    return _TABLES[registry]
