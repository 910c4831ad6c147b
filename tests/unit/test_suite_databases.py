"""The suite's database fixtures (tests/conftest.py): a registry database copied from the
test process's template holds exactly what the migrations make of an empty database, the
``empty_*`` fixtures' databases hold nothing, and templates do not outlive their process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from tests.conftest import (
    _TEMPLATE_PREFIX,
    MYSQL_ADMIN_URL,
    PG_ADMIN_URL,
    _DatabaseServer,
)

from opsml.store import open_engine, schema_revision
from opsml.store._engine import HEAD_REVISION


def _pg_dump(url: str) -> str:
    """Schema and rows, with the database's own settings (``--create``)."""
    parsed = make_url(url)
    tool_url = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = subprocess.run(
        ["pg_dump", "--create", "--no-owner", tool_url], capture_output=True, text=True, check=True
    ).stdout
    # pg_dump 15.14 and later guard the script with a random key (\restrict, \unrestrict).
    lines = [
        line for line in dump.splitlines() if not line.startswith(("\\restrict", "\\unrestrict"))
    ]
    return "\n".join(lines).replace(str(parsed.database), "<database>")


def _mariadb_dump(url: str) -> str:
    """Schema and rows, with the database's own settings (``--databases``)."""
    parsed = make_url(url)
    dump = subprocess.run(
        [
            "mariadb-dump",
            "--skip-dump-date",
            "--routines",
            "--triggers",
            "--events",
            f"--host={parsed.host}",
            f"--port={parsed.port or 3306}",
            f"--user={parsed.username}",
            "--databases",
            str(parsed.database),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dump.replace(str(parsed.database), "<database>")


@pytest.mark.parametrize(
    ("backend", "dump"),
    [
        pytest.param("postgres", _pg_dump, marks=pytest.mark.postgres, id="postgres"),
        pytest.param("mysql", _mariadb_dump, marks=pytest.mark.mysql, id="mysql"),
    ],
)
def test_a_copy_of_the_template_is_a_freshly_migrated_database(
    backend: str, dump: Callable[[str], str], request: pytest.FixtureRequest
) -> None:
    copied: str = request.getfixturevalue(f"{backend}_url")
    migrated: str = request.getfixturevalue(f"empty_{backend}_url")
    open_engine(migrated).dispose()
    expected = dump(migrated)
    assert HEAD_REVISION in expected  # the rows the migrations wrote are in the dump
    assert dump(copied) == expected


def test_db_url_is_an_empty_registry_at_the_newest_schema(db_url: str) -> None:
    assert schema_revision(db_url).revision == HEAD_REVISION


def test_empty_db_url_has_no_tables(empty_db_url: str) -> None:
    assert schema_revision(empty_db_url).revision is None
    engine = create_engine(empty_db_url)
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("backend", "admin_url", "kind"),
    [
        pytest.param(
            "postgres", PG_ADMIN_URL, "PostgreSQL", marks=pytest.mark.postgres, id="postgres"
        ),
        pytest.param("mysql", MYSQL_ADMIN_URL, "MariaDB", marks=pytest.mark.mysql, id="mysql"),
    ],
)
def test_templates_go_with_their_process_or_with_the_next_one(
    backend: str, admin_url: str, kind: str, request: pytest.FixtureRequest
) -> None:
    request.getfixturevalue(f"{backend}_url")  # this process's template exists
    gone = subprocess.Popen(["true"])
    gone.wait()
    killed_runs = f"{_TEMPLATE_PREFIX}{gone.pid}_gw0_abcdef"
    ours = f"{_TEMPLATE_PREFIX}{os.getpid()}_"
    other = _DatabaseServer(admin_url, kind)  # the databases, seen from another connection

    def templates() -> set[str]:
        return {name for name in other.databases() if name.startswith(_TEMPLATE_PREFIX)}

    server = _DatabaseServer(admin_url, kind)  # as a second test process would
    try:
        with other.admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {killed_runs}")
        before = templates()
        server.drop(server.create(migrated=True))
        during = templates()
        assert killed_runs not in during
        (made,) = {name for name in during - before if name.startswith(ours)}
    finally:
        server.close()
    try:
        after = templates()
        assert made not in after
        assert {name for name in before if name.startswith(ours)} <= after  # this session's
    finally:
        other.close()
