"""Databases whose default text collation is not byte order, for the exact-text tests.

The test PostgreSQL server's databases use ``C.UTF-8``, which orders like bytes and so hides
what a server created with a language collation does (under ICU ``en-US``: ``a_b < a-b``,
``rc < RC``). ``collated_db_url`` gives SQLite (bytes), a PostgreSQL database with the ICU
``en-US`` collation (PostgreSQL 15 or newer) and a MariaDB database with the server's
case-insensitive default.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@pytest.fixture
def postgres_icu_url(empty_postgres_url: str) -> Iterator[str]:
    """A new PostgreSQL database whose default collation is ICU ``en-US``."""
    from opsml.registry import close_backends

    url = make_url(empty_postgres_url)
    name = f"{url.database}_icu"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(
                text(
                    f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'"
                    " LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'"
                )
            )
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        close_backends()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def collated_db_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on SQLite, PostgreSQL (ICU ``en-US``) and MariaDB."""
    name = {"sqlite": "sqlite_url", "postgres": "postgres_icu_url", "mysql": "mysql_url"}
    url: str = request.getfixturevalue(name[request.param])
    return url


@pytest.fixture
def collated_registry_env(
    collated_db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> str:
    """Local mode on ``collated_db_url``; returns the database URL."""
    monkeypatch.setenv("OPSML_TRACKING_URI", collated_db_url)
    monkeypatch.setenv("OPSML_STORAGE_URI", str(tmp_path / "registries"))
    return collated_db_url
