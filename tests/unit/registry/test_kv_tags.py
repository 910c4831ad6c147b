"""Key/value tags: ``key:value`` or ``key=value`` in ``card.tags``, searchable with
``list_cards(tags={"team": "search"})`` whichever way they were written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.errors import InvalidArgumentError
from opsml.registry import card_query, tag_filters


def _register(registry: CardRegistry, name: str, tags: object) -> PromptCard:
    card = PromptCard(prompt=Prompt(message="x"), space="team-a", name=name, tags=tags)
    registry.register_card(card)
    return card


def _names(registry: CardRegistry, tags: object) -> set[str]:
    return {r.name for r in registry.list_cards(tags=tags)}  # type: ignore[arg-type]


def test_key_value_tags_match_either_spelling(registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Prompt)
    colon = _register(registry, "colon", ["team:search", "stage=prod"])
    _register(registry, "mapping", {"team": "ads"})  # OpsML's dict form: "team:ads"
    _register(registry, "equals", ["team=search", "plain", "note: a sentence"])
    _register(registry, "other", ["Team=search", "team=searching"])

    assert _names(registry, {"team": "search"}) == {"colon", "equals"}
    assert _names(registry, ["team:search"]) == {"colon", "equals"}
    assert _names(registry, ["team=search"]) == {"colon", "equals"}
    assert _names(registry, {"team": "search", "stage": "prod"}) == {"colon"}
    assert _names(registry, {"team": "ads"}) == {"mapping"}
    assert _names(registry, ["plain", "team=search"]) == {"equals"}
    assert _names(registry, ["note: a sentence"]) == {"equals"}
    assert _names(registry, {"note": " a sentence"}) == {"equals"}
    assert _names(registry, {"team": "Search"}) == set()  # values compare exactly

    # the card keeps its tags as written
    loaded = registry.load_card(space="team-a", name="colon")
    assert loaded.tags == ["team:search", "stage=prod"]
    assert registry.list_cards(name="colon")[0].tags == ["team:search", "stage=prod"]

    loaded.tags = ["team=ads"]
    registry.update_card(loaded)
    assert _names(registry, {"team": "ads"}) == {"colon", "mapping"}
    assert _names(registry, {"team": "search"}) == {"equals"}
    assert colon.uid == loaded.uid


def test_bad_tag_filters_are_refused(sqlite_registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Prompt)
    for bad in ({"bad key": "x"}, {"": "x"}, {"team": 1}, "team=search", 3):
        with pytest.raises(InvalidArgumentError):
            registry.list_cards(tags=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        registry.list_cards(tags={"team": "x" * 300})


def test_a_key_value_search_uses_the_tag_index(sqlite_registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Prompt)
    _register(registry, "colon", ["team:search"])
    store = registry.backend.store  # type: ignore[attr-defined]
    query = card_query(tags=tag_filters({"team": "search"}), limit=25)
    stmt, values, _ = store._select(RegistryType.Prompt, query, summary=True)
    compiled = stmt.compile(store.engine)
    params = [values.get(name, compiled.params.get(name)) for name in compiled.positiontup]
    with sqlite3.connect(str(store.engine.url.database)) as db:
        assert len(list(db.execute(str(compiled), params))) == 1
        plan = " ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {compiled}", params))
    assert "COVERING INDEX ix_opsml_card_tags_tag (registry=? AND tag=?)" in plan
    assert "SCAN opsml_card_tags" not in plan
