"""Migration 0009 indexes tags written before it under both spellings (so a key/value search
finds old cards too), and its downgrade leaves only the tags the cards carry."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, select

import opsml.store._engine as engine_module
from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.registry import close_backends
from opsml.store._schema import TAGS


def _alembic(engine: Engine, action: str, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(engine_module.__file__).parent / "migrations"))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)
        conn.commit()


def _index_rows(engine: Engine, uid: str) -> set[str]:
    with engine.connect() as conn:
        return {str(t) for (t,) in conn.execute(select(TAGS.c.tag).where(TAGS.c.uid == uid))}


def test_old_tags_are_indexed_under_both_spellings(
    empty_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSML_TRACKING_URI", empty_db_url)
    monkeypatch.setenv("OPSML_STORAGE_URI", str(tmp_path / "registries"))
    registry = CardRegistry(RegistryType.Prompt)
    card = PromptCard(
        prompt=Prompt(message="x"), space="a", name="b", tags=["team:search", "plain", "k=v"]
    )
    registry.register_card(card)
    close_backends()
    engine = create_engine(empty_db_url)
    try:
        _alembic(engine, "downgrade", "0008_card_aliases")  # as before the revision
        assert _index_rows(engine, str(card.uid)) == {"team:search", "plain", "k=v"}
        _alembic(engine, "upgrade", "head")
        assert _index_rows(engine, str(card.uid)) == {
            "team:search",
            "team=search",
            "plain",
            "k=v",
            "k:v",
        }
        found = CardRegistry(RegistryType.Prompt).list_cards(tags={"team": "search", "k": "v"})
        assert [r.uid for r in found] == [card.uid]
    finally:
        close_backends()
        engine.dispose()
