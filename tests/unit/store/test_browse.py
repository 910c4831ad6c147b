"""Browsing queries (spaces, names of a space) page by key on every database."""

from __future__ import annotations

from pathlib import Path

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.registry._registry import card_query
from opsml.settings import OpsmlConfig
from opsml.store import CardQuery, SqlStore
from opsml.store._browse import card_names, card_page, space_summaries


def test_spaces_and_names_page_by_key(local_registry_env: Path) -> None:
    prompts = CardRegistry(RegistryType.Prompt)
    for space, name, count in (("a", "x", 2), ("a", "y", 1), ("b", "x", 1), ("c", "z", 3)):
        for _ in range(count):
            prompts.register_card(PromptCard(prompt=Prompt(message="m"), space=space, name=name))
    store = SqlStore.from_url(OpsmlConfig.from_env().tracking_uri)

    first = space_summaries(store, limit=2)
    assert [(s.space, s.registries) for s in first] == [
        ("a", {RegistryType.Prompt}),
        ("b", {RegistryType.Prompt}),
    ]
    rest = space_summaries(store, after=first[-1].space, limit=2)
    assert [s.space for s in rest] == ["c"]

    names = card_names(store, RegistryType.Prompt, "a", limit=1)
    assert [(n.name, n.versions) for n in names] == [("x", 2)]
    assert names[0].last_created.tzinfo is not None
    more = card_names(store, RegistryType.Prompt, "a", after="x", limit=5)
    assert [(n.name, n.versions) for n in more] == [("y", 1)]
    assert card_names(store, RegistryType.Data, "a") == []


def test_card_pages_follow_list_order(local_registry_env: Path) -> None:
    prompts = CardRegistry(RegistryType.Prompt)
    for version in ("1.0.0", "1.0.0+b.1", "1.0.0+b.2", "1.1.0-rc.1", "1.1.0", "2.0.0"):
        prompts.register_card(
            PromptCard(prompt=Prompt(message="m"), space="s", name="n", version=version),
            pre_tag=None,
        )
    prompts.register_card(PromptCard(prompt=Prompt(message="m"), space="t", name="n", tags=["k"]))
    store = SqlStore.from_url(OpsmlConfig.from_env().tracking_uri)

    def walk(query: CardQuery) -> list[str]:
        seen: list[str] = []
        after = None
        while True:
            rows = card_page(store, RegistryType.Prompt, query, after)
            seen.extend(row.version for row in rows)
            if len(rows) < 2:
                return seen
            after = rows[-1].uid

    by_version = card_query(space="s", name="n", version="*", limit=2)
    expected = [r.version for r in prompts.list_cards(space="s", name="n", version="*", limit=50)]
    assert walk(by_version) == expected
    assert expected[0] == "2.0.0"
    newest = walk(card_query(sort_by_timestamp=True, limit=2))
    assert len(newest) == 7
    assert newest[0] == "0.1.0"
    assert walk(card_query(tags=("k",), sort_by_timestamp=True, limit=2)) == ["0.1.0"]


def test_substring_search_escapes_wildcards(local_registry_env: Path) -> None:
    prompts = CardRegistry(RegistryType.Prompt)
    for space, name in (("team", "a_b"), ("team", "axb"), ("other", "ranker")):
        prompts.register_card(PromptCard(prompt=Prompt(message="m"), space=space, name=name))
    store = SqlStore.from_url(OpsmlConfig.from_env().tracking_uri)
    query = CardQuery(sort_by_timestamp=True, limit=10)

    def names(*contains: tuple[str, str]) -> list[str]:
        rows = card_page(store, RegistryType.Prompt, query, None, contains)
        return sorted(row.name for row in rows)

    assert names(("name", "a_b")) == ["a_b"]
    assert names(("name", "_")) == ["a_b"]
    assert names(("name", "%")) == []
    assert names(("name", "\\")) == []
    assert names(("any", "TEAM")) == ["a_b", "axb"]
    assert names(("space", "oth"), ("name", "rank")) == ["ranker"]
    assert names(("any", "zzz")) == []
