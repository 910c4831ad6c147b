"""Aliases: mutable names per (registry, space, name) pointing at one version, in local mode
on every database and in client mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsml import CardRegistry, Prompt, PromptCard, RegistryType, ServiceCard
from opsml.cards import Card
from opsml.errors import CardNotFoundError, InvalidNameError, InvalidVersionError


def _prompts(registry: CardRegistry, count: int, name: str = "greeting") -> list[PromptCard]:
    cards = []
    for i in range(count):
        card = PromptCard(prompt=Prompt(message=f"hello {i}"), space="team-a", name=name)
        registry.register_card(card)
        cards.append(card)
    return cards


def test_an_alias_follows_its_moves(registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Prompt)
    first, second, _third = _prompts(registry, 3)

    created = registry.set_alias("team-a", "greeting", "Prod", "0.1.0")
    assert (created.alias, created.version, created.uid) == ("prod", "0.1.0", first.uid)
    loaded = registry.load_card(space="team-a", name="greeting", version="@prod")
    assert loaded.uid == first.uid
    assert loaded.prompt.message[0].content == "hello 0"

    registry.set_alias("team-a", "greeting", "prod", "0.2.0")
    assert registry.load_card(space="team-a", name="greeting", version="@prod").uid == second.uid
    assert [r.uid for r in registry.list_cards(version="@prod")] == [second.uid]
    # without a version the highest version still wins: an alias changes only "@prod"
    assert registry.load_card(space="team-a", name="greeting").version == "0.3.0"

    registry.set_alias("team-a", "greeting", "canary", "0.3.0")
    listed = registry.list_aliases(space="team-a", name="greeting")
    assert [(a.alias, a.version) for a in listed] == [("canary", "0.3.0"), ("prod", "0.2.0")]

    registry.delete_alias("team-a", "greeting", "prod")
    assert [a.alias for a in registry.list_aliases()] == ["canary"]
    with pytest.raises(CardNotFoundError, match="its aliases: @canary"):
        registry.load_card(space="team-a", name="greeting", version="@prod")
    with pytest.raises(CardNotFoundError, match="has no alias 'prod'"):
        registry.delete_alias("team-a", "greeting", "prod")


def test_aliases_belong_to_one_card_name(registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Prompt)
    greeting = _prompts(registry, 1)[0]
    farewell = _prompts(registry, 2, name="farewell")
    registry.set_alias("team-a", "greeting", "prod", "0.1.0")
    registry.set_alias("team-a", "farewell", "prod", "0.2.0")
    assert registry.load_card(space="team-a", name="greeting", version="@prod").uid == greeting.uid
    assert registry.load_card(space="team-a", name="farewell", version="@prod").uid == (
        farewell[1].uid
    )
    assert {r.uid for r in registry.list_cards(version="@prod")} == {greeting.uid, farewell[1].uid}
    # another registry has aliases of its own
    assert CardRegistry(RegistryType.Model).list_aliases() == []


def test_bad_aliases_and_missing_versions_are_refused(registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Prompt)
    _prompts(registry, 1)
    for bad in ("", "1st", "latest", "pr od", "a/b", "x" * 65):
        with pytest.raises(InvalidNameError):
            registry.set_alias("team-a", "greeting", bad, "0.1.0")
    with pytest.raises(InvalidNameError):
        registry.load_card(space="team-a", name="greeting", version="@no/pe")
    for version in ("0.1", "^0.1", "@other", "nope"):
        with pytest.raises(InvalidVersionError):
            registry.set_alias("team-a", "greeting", "prod", version)
    with pytest.raises(CardNotFoundError, match=r"0\.9\.0"):
        registry.set_alias("team-a", "greeting", "prod", "0.9.0")
    with pytest.raises(CardNotFoundError):
        registry.set_alias("team-a", "unknown", "prod", "0.1.0")
    with pytest.raises(InvalidNameError):
        registry.set_alias("Team A", "greeting", "prod", "0.1.0")
    assert registry.list_aliases() == []


def test_deleting_or_renaming_a_card_removes_its_aliases(registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Prompt)
    first, second = _prompts(registry, 2)
    registry.set_alias("team-a", "greeting", "prod", "0.1.0")
    registry.set_alias("team-a", "greeting", "canary", "0.2.0")

    second.tags = ["reviewed"]
    second.version = "0.2.1"  # a new version of the same name keeps the alias
    registry.update_card(second)
    assert registry.load_card(space="team-a", name="greeting", version="@canary").version == "0.2.1"

    first.name = "welcome"  # another name: the alias of "greeting" no longer applies
    registry.update_card(first)
    registry.delete_card(second)
    assert registry.list_aliases() == []
    with pytest.raises(CardNotFoundError):
        registry.load_card(space="team-a", name="greeting", version="@canary")


def test_a_service_pins_what_the_alias_points_at(registry_env: Path) -> None:
    prompts = CardRegistry(RegistryType.Prompt)
    _first, second = _prompts(prompts, 2)
    prompts.set_alias("team-a", "greeting", "prod", "0.2.0")
    service = ServiceCard(
        space="team-a",
        name="bot",
        cards=[
            Card(
                alias="prompt",
                registry_type=RegistryType.Prompt,
                space="team-a",
                name="greeting",
                version="@prod",
            )
        ],
    )
    CardRegistry(RegistryType.Service).register_card(service)
    prompts.set_alias("team-a", "greeting", "prod", "0.1.0")  # moving it later changes nothing
    loaded = CardRegistry(RegistryType.Service).load_card(space="team-a", name="bot")
    assert loaded["prompt"].uid == second.uid
    assert loaded["prompt"].version == "0.2.0"
