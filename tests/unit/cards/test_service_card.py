"""ServiceCard and Card references without a registry: validation, access, JSON."""

from __future__ import annotations

import pytest

from opsml import Card, CardDeck, PromptCard, RegistryType, ServiceCard
from opsml.errors import (
    AliasNotFoundError,
    CardStateError,
    CardTypeError,
    InvalidArgumentError,
    InvalidNameError,
    InvalidVersionError,
)
from opsml.llm import Prompt
from opsml.types import ServiceType


def _registered_prompt() -> PromptCard:
    card = PromptCard(prompt=Prompt(message="hi"), space="s", name="p")
    card.uid, card.version = "01a00000-0000-7000-8000-000000000001", "1.0.0"
    return card


def test_three_ways_to_reference_a_card() -> None:
    by_name = Card("m", registry_type="model", space="Team-A", name="ranker", version="1.*")
    assert (by_name.registry_type, by_name.space, by_name.version) == (
        RegistryType.Model,
        "team-a",
        "1.*",
    )
    by_uid = Card("d", registry_type=RegistryType.Data, uid="abc")
    assert by_uid.uid == "abc"
    assert by_uid.space is None

    card = _registered_prompt()
    by_card = Card("p", card=card)
    assert (by_card.registry_type, by_card.uid, by_card.name, by_card.version) == (
        RegistryType.Prompt,
        card.uid,
        "p",
        "1.0.0",
    )


@pytest.mark.parametrize(
    ("kwargs", "needed"),
    [
        ({"space": "s", "name": "n"}, "registry_type is required"),
        ({"registry_type": "model"}, "give a uid, or a space and a name"),
        ({"registry_type": "model", "space": "s"}, "give a uid, or a space and a name"),
        ({"registry_type": "service", "uid": "x"}, "cannot reference a service card"),
    ],
)
def test_incomplete_references_say_what_is_needed(kwargs: dict[str, str], needed: str) -> None:
    with pytest.raises(InvalidArgumentError, match=needed):
        Card("alias", **kwargs)  # type: ignore[arg-type]


def test_card_object_must_be_registered_and_of_the_stated_type() -> None:
    with pytest.raises(CardStateError, match="not registered"):
        Card("p", card=PromptCard(prompt=Prompt(message="hi"), space="s", name="p"))
    with pytest.raises(CardTypeError, match="registry_type is model"):
        Card("p", registry_type="model", card=_registered_prompt())
    with pytest.raises(InvalidArgumentError, match="must be an opsml card"):
        Card("p", card=object())


@pytest.mark.parametrize("alias", ["", "a/b", "..", ".hidden", "x\x00y", "a\\b", "x" * 129])
def test_bad_aliases_are_rejected(alias: str) -> None:
    with pytest.raises(InvalidArgumentError, match="alias"):
        Card(alias, registry_type="model", uid="u")


def test_bad_names_and_unknown_types_are_rejected() -> None:
    with pytest.raises(InvalidNameError):
        Card("m", registry_type="model", space="a/b", name="n")
    with pytest.raises(InvalidArgumentError):
        Card("m", registry_type="nope", uid="u")


def test_duplicate_aliases_are_rejected() -> None:
    refs = [Card("m", registry_type="model", uid="a"), Card("m", registry_type="data", uid="b")]
    with pytest.raises(InvalidArgumentError, match="duplicate card alias 'm'"):
        ServiceCard(space="s", name="svc", cards=refs)
    with pytest.raises(InvalidArgumentError, match="Card references"):
        ServiceCard(space="s", name="svc", cards=["not a card"])  # type: ignore[list-item]
    with pytest.raises(InvalidVersionError):
        ServiceCard(space="s", name="svc", cards=[], version="not-a-version")


def test_access_by_alias_lists_known_aliases() -> None:
    prompt = _registered_prompt()
    service = ServiceCard(
        space="s",
        name="svc",
        cards=[Card("p", card=prompt), Card("m", registry_type="model", uid="u")],
    )
    assert service["p"] is prompt
    assert "p" in service
    assert "x" not in service
    assert service.aliases == ["p", "m"]
    with pytest.raises(AliasNotFoundError, match="known aliases: 'p', 'm'") as info:
        service["x"]
    assert isinstance(info.value, KeyError)
    with pytest.raises(CardStateError, match="reference only"):
        service["m"]
    # cards: the attached card, or the reference when only a reference is known
    assert len(service.cards) == 2
    assert service.cards[0] is prompt
    assert isinstance(service.cards[1], Card)
    assert service.cards[1].alias == "m"
    assert [getattr(c, "name", None) for c in service.cards] == ["p", None]


def test_json_round_trip_keeps_references_only() -> None:
    service = ServiceCard(
        space="s",
        name="svc",
        cards=[Card("p", card=_registered_prompt())],
        service_type="agent",
        description="helps",
        tags=["team:a"],
    )
    text = service.model_dump_json()
    assert '"cards": [{"alias": "p"' in text
    assert '"prompt": ' not in text  # the card itself is never embedded
    again = ServiceCard.model_validate_json(text)
    assert again.card_refs[0].uid == service.card_refs[0].uid
    assert again.card_refs[0].card is None
    assert (again.service_type, again.description, again.tags) == (
        ServiceType.Agent,
        "helps",
        ["team:a"],
    )


def test_unresolved_references_cannot_be_registered_directly() -> None:
    service = ServiceCard(
        space="s", name="svc", cards=[Card("m", registry_type="model", space="s", name="n")]
    )
    with pytest.raises(InvalidArgumentError, match="not resolved"):
        service._linked_uids()


def test_card_deck_is_the_old_name() -> None:
    assert CardDeck is ServiceCard
    assert RegistryType.Deck is RegistryType.Service
    assert RegistryType("deck") is RegistryType.Service
