"""Backends are explicit objects: a pool a program or a test creates, passes and closes;
registries with one configuration share a backend, those of one database one engine."""

from __future__ import annotations

import dataclasses
import gc
import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from opsml import CardRegistry, PromptCard, RegistryType
from opsml.llm import Prompt
from opsml.registry import Backends, LocalBackend, close_backends
from opsml.settings import CacheConfig, OpsmlConfig


def _config(tmp_path: Path, url: str) -> OpsmlConfig:
    return OpsmlConfig(
        tracking_uri=url,
        storage_uri=str(tmp_path / "artifacts"),
        cache=CacheConfig(root=tmp_path / "cache"),
    )


def _register(registry: CardRegistry, name: str) -> None:
    card = PromptCard(prompt=Prompt(message="hi"), space="s", name=name)
    registry.register_card(card)


def _sessions(url: str) -> int:
    """Connections other than this one open to the database of ``url`` (PostgreSQL)."""
    admin = create_engine(url)
    try:
        with admin.connect() as conn:
            count = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": make_url(url).database},
            ).scalar_one()
    finally:
        admin.dispose()
    return int(count)


def test_equal_configurations_share_a_backend_and_a_database_one_engine(
    tmp_path: Path, sqlite_url: str
) -> None:
    pool = Backends()
    config = _config(tmp_path, sqlite_url)
    first = CardRegistry(RegistryType.Prompt, config, backends=pool)
    again = CardRegistry(RegistryType.Prompt, dataclasses.replace(config), backends=pool)
    assert first.backend is again.backend

    elsewhere = dataclasses.replace(config, cache=CacheConfig(root=tmp_path / "other-cache"))
    other = CardRegistry(RegistryType.Prompt, elsewhere, backends=pool).backend
    assert other is not first.backend
    assert isinstance(other, LocalBackend)
    assert isinstance(first.backend, LocalBackend)
    assert other.store is first.backend.store, "one database, one engine"
    assert other.storage.verified is not first.backend.storage.verified

    own_pool = CardRegistry(RegistryType.Prompt, config, backends=Backends()).backend
    assert own_pool is not first.backend, "pools share nothing"
    pool.close()


@pytest.mark.needs("numpy")
def test_the_configuration_decides_where_fingerprints_are_kept(
    tmp_path: Path, sqlite_url: str
) -> None:
    import numpy as np

    from opsml import DataCard
    from opsml.data import NumpyData
    from opsml.storage import VerifiedFiles, fingerprint

    pool = Backends()
    registry = CardRegistry(RegistryType.Data, _config(tmp_path, sqlite_url), backends=pool)
    card = DataCard(interface=NumpyData(data=np.arange(10.0)), space="s", name="fingerprinted")
    registry.register_card(card)
    (stored,) = (tmp_path / "artifacts").rglob("*.npy")
    key = fingerprint(stored, stored.stat())
    assert key is not None
    entry = card.manifest.files[stored.name] if card.manifest else None
    assert entry is not None
    assert VerifiedFiles(tmp_path / "cache" / "verified.sqlite3").known(key, entry.sha256)
    pool.close()


@pytest.mark.postgres
def test_closing_a_pool_closes_its_database_connections(tmp_path: Path, postgres_url: str) -> None:
    pool = Backends()
    registry = CardRegistry(RegistryType.Prompt, _config(tmp_path, postgres_url), backends=pool)
    _register(registry, "a")
    default = CardRegistry(RegistryType.Prompt, _config(tmp_path, postgres_url))
    assert len(default.list_cards()) == 1
    assert _sessions(postgres_url) >= 2, "each pool keeps its connections open"

    close_backends(postgres_url)  # the default pool's, not this one's
    assert len(registry.list_cards()) == 1
    pool.close()
    assert _sessions(postgres_url) == 0
    _register(registry, "b")  # a registry of a closed pool opens connections again
    assert len(registry.list_cards()) == 2
    assert _sessions(postgres_url) >= 1
    del registry, default
    gc.collect()
    assert _sessions(postgres_url) == 0, "a store's connections go with the store"


def test_a_forked_child_starts_with_an_empty_pool(tmp_path: Path, sqlite_url: str) -> None:
    pool = Backends()
    config = _config(tmp_path, sqlite_url)
    registry = CardRegistry(RegistryType.Prompt, config, backends=pool)
    _register(registry, "parent")
    pid = os.fork()
    if pid == 0:  # the child: its own backend, working; never back into pytest
        code = 1
        try:
            child = CardRegistry(RegistryType.Prompt, config, backends=pool)
            _register(child, "child")
            if child.backend is not registry.backend and len(child.list_cards()) == 2:
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [r.name for r in registry.list_cards(sort_by_timestamp=True)] == ["child", "parent"]
    pool.close()
