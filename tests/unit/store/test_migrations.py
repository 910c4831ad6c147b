"""``opsml db upgrade`` / ``opsml db current``: every earlier schema upgrades with its data,
replicas migrating at once migrate once, and a schema newer than this opsml is refused.

(``test_migration_0006.py`` checks what migration 0006 itself changes.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

import opsml.store._engine as engine_module
from opsml import CardRegistry, DataCard, Prompt, PromptCard, RegistryType
from opsml.data import NumpyData
from opsml.errors import SchemaVersionError
from opsml.registry import close_backends
from opsml.store import open_engine, schema_revision, upgrade_schema
from opsml.store._engine import HEAD_REVISION, known_revisions


def _downgrade(url: str, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(engine_module.__file__).parent / "migrations"))
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)
            conn.commit()
    finally:
        engine.dispose()


def _set_revision(url: str, revision: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE opsml_alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


def test_every_migration_is_known_and_the_last_is_head() -> None:
    revisions = known_revisions()
    assert revisions[0] == "0001"
    assert revisions[-1] == HEAD_REVISION
    assert len(set(revisions)) == len(revisions) >= 8


def test_upgrade_from_every_earlier_revision_keeps_every_card(local_registry_env: Path) -> None:
    url = os.environ["OPSML_TRACKING_URI"]
    data = np.arange(1000.0)
    cards = [
        DataCard(interface=NumpyData(data=data), space="ops", name="numbers"),
        PromptCard(prompt=Prompt(message="hello ${name}"), space="ops", name="greeting"),
        PromptCard(prompt=Prompt(message="again"), space="other", name="greeting", tags=["t"]),
    ]
    for card in cards:
        CardRegistry(card.registry_type).register_card(card)
    close_backends()
    for revision in known_revisions()[:-1]:
        _downgrade(url, revision)
        assert schema_revision(url).revision == revision
        assert schema_revision(url).describe().endswith("run `opsml db upgrade`")
        before, after = upgrade_schema(url)
        assert (before.revision, after.revision) == (revision, HEAD_REVISION), revision
        for card in cards:
            loaded = CardRegistry(card.registry_type).load_card(uid=card.uid)
            assert (loaded.space, loaded.name, loaded.version) == (
                card.space,
                card.name,
                card.version,
            ), revision
            assert loaded.tags == card.tags
            if isinstance(loaded, DataCard):
                loaded.load()  # the files, verified against the manifest
                assert np.array_equal(loaded.interface.data, data), revision
        close_backends()
    # And the registry still takes new cards at head.
    CardRegistry(RegistryType.Prompt).register_card(
        PromptCard(prompt=Prompt(message="new"), space="ops", name="greeting")
    )
    assert [c.version for c in CardRegistry(RegistryType.Prompt).list_cards(space="ops")] == [
        "0.2.0",
        "0.1.0",
    ]


def _db_command(url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OPSML_TRACKING_URI": url}
    return subprocess.Popen(
        [sys.executable, "-m", "opsml.cli.main", "db", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_replicas_upgrading_at_once_migrate_once(empty_db_url: str) -> None:
    procs = [_db_command(empty_db_url, "upgrade") for _ in range(3)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    upgraded = [o for o in outputs if o.startswith("upgraded from an empty database to")]
    waited = [o for o in outputs if o.startswith(f"already at {HEAD_REVISION}")]
    assert (len(upgraded), len(waited)) == (1, 2), outputs
    current = _db_command(empty_db_url, "current")
    assert current.communicate(timeout=120)[0].strip() == f"{HEAD_REVISION} (head): up to date"
    assert current.returncode == 0


def test_a_schema_newer_than_this_opsml_is_refused(sqlite_url: str) -> None:
    open_engine(sqlite_url).dispose()
    _set_revision(sqlite_url, "0099_future")
    with pytest.raises(SchemaVersionError, match=r"newer than this opsml.*upgrade opsml"):
        open_engine(sqlite_url)
    with pytest.raises(SchemaVersionError, match="newer than this opsml"):
        upgrade_schema(sqlite_url)
    state = schema_revision(sqlite_url)
    assert (state.revision, state.known, state.up_to_date) == ("0099_future", False, False)
    current = _db_command(sqlite_url, "current")
    out = current.communicate(timeout=120)[0]
    assert current.returncode == 1
    assert "0099_future: newer than this opsml knows" in out


@pytest.mark.client
def test_the_server_refuses_to_start_on_a_newer_schema(sqlite_url: str, tmp_path: Path) -> None:
    open_engine(sqlite_url).dispose()
    _set_revision(sqlite_url, "0099_future")
    env = {
        **os.environ,
        "OPSML_TRACKING_URI": sqlite_url,
        "OPSML_STORAGE_URI": str(tmp_path / "storage"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "opsml.server", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "schema revision 0099_future, newer than this opsml" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_without_auto_migration_the_server_asks_for_opsml_db_upgrade(
    sqlite_registry_env: Path, sqlite_url: str
) -> None:
    from opsml.server import create_app
    from opsml.server._config import ServerConfig
    from opsml.settings import OpsmlConfig

    open_engine(sqlite_url).dispose()
    _downgrade(sqlite_url, "0007")
    config = ServerConfig(opsml=OpsmlConfig.from_env(), auto_migrate=False)
    with pytest.raises(SchemaVersionError, match=r"run `opsml db upgrade`"):
        create_app(config)
    upgrade_schema(sqlite_url)
    create_app(config)  # at head: starts
