"""``opsml.mock.RegistryTestHelper``: a throwaway registry seeded as OpsML 3's helper seeds it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from opsml import CardRegistry, RegistryType
from opsml.mock import SEEDED_DATA_VERSIONS, RegistryTestHelper


def test_setup_seeds_ten_data_cards_and_cleanup_removes_everything() -> None:
    helper = RegistryTestHelper()
    helper.setup()
    try:
        folder = helper.path
        assert folder is not None
        registry = CardRegistry(RegistryType.Data)
        cards = registry.list_cards(limit=100)
        assert len(cards) == 10
        assert sorted(c.version for c in cards) == sorted(SEEDED_DATA_VERSIONS)
        assert {(c.space, c.name) for c in cards} == {("repo1", "data1")}
        assert len(registry.list_cards(version="2.0.0")) == 1
        assert len(registry.list_cards(version="3.*")) == 2
        card = registry.load_card(space="repo1", name="data1", version="1.1.1")
        card.load()
        assert card.interface.sql_logic.queries == {"rows": "SELECT 1 AS one"}
    finally:
        helper.cleanup()
    assert not folder.exists()
    assert "OPSML_TRACKING_URI" not in os.environ


def test_the_helper_restores_the_caller_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSML_TRACKING_URI", f"sqlite:///{tmp_path / 'mine.db'}")
    with RegistryTestHelper():
        assert "mine.db" not in os.environ["OPSML_TRACKING_URI"]
    assert os.environ["OPSML_TRACKING_URI"].endswith("mine.db")
