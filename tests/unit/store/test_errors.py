"""Database errors become one-line opsml errors: the driver's reason, never the statement,
its parameters or SQLAlchemy's help link; a value the database refuses is an
``UnstorableValueError`` (bad input), anything else a ``MetadataStoreError``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from opsml.errors import MetadataStoreError, UnstorableValueError
from opsml.store import SqlStore
from opsml.store._experiment import ExperimentStore

UID = "0190f3c5-8d8e-7c41-9f7a-3b2a1c0d4e5f"
_LEAKS = ("[SQL", "[parameters", "sqlalche.me", "INSERT", "SELECT", "\n")


def _assert_one_clean_line(message: str) -> None:
    for leak in _LEAKS:
        assert leak not in message, (leak, message)


def test_a_value_the_database_cannot_hold_is_unstorable(db_url: str) -> None:
    """What the checks at the call and at the HTTP edge prevent, if one of them missed."""
    store = ExperimentStore(SqlStore.from_url(db_url))
    row = {"name": "loss", "value": 1.0, "step": 2**70, "timestamp": 0, "is_eval": False}
    with pytest.raises(UnstorableValueError, match="logging metrics failed: the database") as e:
        store.add_metrics(UID, [row])
    _assert_one_clean_line(str(e.value))
    assert store.metrics(UID) == []


def test_a_broken_database_is_a_one_line_metadata_store_error(db_url: str) -> None:
    sql = SqlStore.from_url(db_url)
    with sql.engine.begin() as conn:
        conn.execute(text("DROP TABLE opsml_experiment_hardware"))
    with pytest.raises(MetadataStoreError, match="reading hardware metrics failed: ") as e:
        ExperimentStore(sql).hardware(UID)
    _assert_one_clean_line(str(e.value))
    assert "opsml_experiment_hardware" in str(e.value)  # the driver's reason stays
    assert e.value.__cause__ is not None  # the whole SQLAlchemy error, for a traceback


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(  # nothing listens on port 1
            "postgresql://nobody@127.0.0.1:1/none", marks=pytest.mark.needs("psycopg")
        ),
        pytest.param("mysql+pymysql://nobody@127.0.0.1:1/none", marks=pytest.mark.needs("pymysql")),
    ],
)
def test_the_cli_prints_one_line_when_the_database_is_unreachable(url: str, tmp_path: Path) -> None:
    env = {**os.environ, "OPSML_TRACKING_URI": url, "OPSML_STORAGE_URI": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "opsml.cli.main", "list", "data"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: MetadataStoreError: opening the metadata store at ")
    _assert_one_clean_line(lines[0])
