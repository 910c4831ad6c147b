"""Test servers start on a copy of one migrated empty registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from opsml import CardRegistry, DataCard, NumpyData, RegistryType
from opsml.mock._server import empty_registry_database
from opsml.settings import OpsmlConfig
from opsml.store import schema_revision
from opsml.store._engine import HEAD_REVISION


def test_each_copy_is_a_registry_of_its_own_at_the_newest_schema(tmp_path: Path) -> None:
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    empty_registry_database(first)
    empty_registry_database(second)
    for db in (first, second):
        state = schema_revision(f"sqlite:///{db.as_posix()}")
        assert state.revision == HEAD_REVISION

    env = {
        "OPSML_TRACKING_URI": f"sqlite:///{first.as_posix()}",
        "OPSML_STORAGE_URI": str(tmp_path / "s"),
    }
    registry = CardRegistry(RegistryType.Data, OpsmlConfig.from_env(env, tmp_path))
    registry.register_card(DataCard(interface=NumpyData(data=np.arange(3)), space="s", name="n"))
    assert len(registry.list_cards()) == 1

    env["OPSML_TRACKING_URI"] = f"sqlite:///{second.as_posix()}"
    other = CardRegistry(RegistryType.Data, OpsmlConfig.from_env(env, tmp_path))
    assert len(other.list_cards()) == 0
