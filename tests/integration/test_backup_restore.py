"""The backup and restore of docs/operations.md, on a live registry: the database dumped
with its own tool while a server runs, then the storage folder copied; both restored into
a fresh database and a fresh folder, where a new server loads every card, verified."""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from opsml import CardRegistry, DataCard, Prompt, PromptCard, RegistryType
from opsml.data import NumpyData
from opsml.mock import OpsmlTestServer
from opsml.registry import close_backends

pytestmark = [pytest.mark.slow, pytest.mark.client]


def _tool_url(url: str) -> str:
    """The URL without the SQLAlchemy driver (what pg_dump and psql take)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _backup(url: str, dump: Path) -> None:
    """The backup commands of docs/operations.md, for the database at ``url``."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", _tool_url(url)], check=True)
    elif backend in ("mysql", "mariadb"):
        with dump.open("wb") as out:
            subprocess.run(
                [
                    "mariadb-dump",
                    "--single-transaction",
                    "--routines",
                    f"--host={parsed.host}",
                    f"--port={parsed.port or 3306}",
                    f"--user={parsed.username}",
                    str(parsed.database),
                ],
                stdout=out,
                check=True,
            )
    else:
        subprocess.run(["sqlite3", str(parsed.database), f".backup '{dump}'"], check=True)


def _restore(dump: Path, url: str) -> None:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        subprocess.run(
            ["pg_restore", "--no-owner", f"--dbname={_tool_url(url)}", str(dump)], check=True
        )
    elif backend in ("mysql", "mariadb"):
        with dump.open("rb") as source:
            subprocess.run(
                [
                    "mariadb",
                    f"--host={parsed.host}",
                    f"--port={parsed.port or 3306}",
                    f"--user={parsed.username}",
                    str(parsed.database),
                ],
                stdin=source,
                check=True,
            )
    else:
        Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(dump, str(parsed.database))
        assert sqlite3.connect(str(parsed.database)).execute(
            "PRAGMA integrity_check"
        ).fetchone() == ("ok",)


@pytest.fixture
def restore_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database beside ``db_url`` to restore into."""
    parsed = make_url(db_url)
    if parsed.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored' / 'opsml.db'}"
        return
    name = f"opsml_restore_{secrets.token_hex(6)}"
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        close_backends()
        with admin.connect() as conn:
            force = " WITH (FORCE)" if parsed.get_backend_name() == "postgresql" else ""
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}{force}"))
        admin.dispose()


def test_backup_of_a_live_registry_restores_every_card(
    db_url: str, restore_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSML_CACHE_MAX_BYTES", "0")  # loads fetch from the server
    storage = tmp_path / "storage"
    arrays = {f"set-{n}": np.random.default_rng(n).random(5000) for n in range(3)}
    live = OpsmlTestServer(
        base_path=tmp_path / "live",
        env={"OPSML_TRACKING_URI": db_url, "OPSML_STORAGE_URI": str(storage)},
    )
    with live:
        for name, data in arrays.items():
            CardRegistry(RegistryType.Data).register_card(
                DataCard(interface=NumpyData(data=data), space="backup", name=name)
            )
        CardRegistry(RegistryType.Prompt).register_card(
            PromptCard(prompt=Prompt(message="restore me"), space="backup", name="greeting")
        )
        # The backup, while the server runs: the database first, then the storage.
        dump = tmp_path / "opsml.dump"
        _backup(db_url, dump)
        # Registered between the two: its files are in the copy, its record is not.
        CardRegistry(RegistryType.Prompt).register_card(
            PromptCard(prompt=Prompt(message="too late"), space="backup", name="late")
        )
        shutil.copytree(storage, tmp_path / "storage-backup")

    restored_storage = tmp_path / "restored-storage"
    _restore(dump, restore_url)
    shutil.copytree(tmp_path / "storage-backup", restored_storage)
    restored = OpsmlTestServer(
        base_path=tmp_path / "restored-server",
        env={"OPSML_TRACKING_URI": restore_url, "OPSML_STORAGE_URI": str(restored_storage)},
    )
    with restored:
        data_cards = CardRegistry(RegistryType.Data).list_cards(space="backup")
        assert sorted(c.name for c in data_cards) == sorted(arrays)
        for record in data_cards:
            card = CardRegistry(RegistryType.Data).load_card(uid=record.uid)
            card.load()  # every file against its SHA-256
            assert np.array_equal(card.interface.data, arrays[card.name])
        prompts = CardRegistry(RegistryType.Prompt).list_cards(space="backup")
        assert [p.name for p in prompts] == ["greeting"]
        loaded = CardRegistry(RegistryType.Prompt).load_card(uid=prompts[0].uid)
        assert loaded.prompt.message[0].content == "restore me"
        # The restored registry takes new cards, at the next free versions.
        again = DataCard(interface=NumpyData(data=arrays["set-0"]), space="backup", name="set-0")
        CardRegistry(RegistryType.Data).register_card(again)
        assert again.version == "0.2.0"
    # The files of the card registered after the dump: orphans, which gc removes.
    late = list(restored_storage.glob("opsml_prompt_registry/backup/late/*"))
    assert len(late) == 1
    env = {
        **os.environ,
        "OPSML_TRACKING_URI": restore_url,
        "OPSML_STORAGE_URI": str(restored_storage),
    }
    gc = subprocess.run(
        [sys.executable, "-m", "opsml.cli.main", "gc"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert gc.returncode == 0, gc.stderr
    assert "1 orphaned card folders" in gc.stdout
    assert not late[0].exists()
