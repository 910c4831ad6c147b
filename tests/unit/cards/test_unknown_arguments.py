"""Cards refuse constructor arguments they do not take, naming the nearest valid one; card
JSON written by a newer opsml (fields this version does not know) still loads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from opsml import (
    CardRegistry,
    DataCard,
    ExperimentCard,
    ModelCard,
    PromptCard,
    RegistryType,
    ServiceCard,
)
from opsml.errors import InvalidArgumentError, UnknownArgumentError
from opsml.llm import Prompt


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: PromptCard(prompt=Prompt(message="hi"), space="a", name="b", tag=["x"]),
            "PromptCard() got an unexpected argument 'tag'; did you mean 'tags'?",
        ),
        (
            lambda: ModelCard(space="a", naem="b"),
            "ModelCard() got an unexpected argument 'naem'; did you mean 'name'?",
        ),
        (
            lambda: DataCard(data=[1, 2], space="a", name="b"),
            "DataCard() got an unexpected argument 'data'; a DataCard holds its data in an "
            "interface: DataCard(interface=PandasData(data=df), ...)",
        ),
        (
            lambda: ModelCard(model=object(), space="a", name="b"),
            "ModelCard() got an unexpected argument 'model'; a ModelCard holds its model in an "
            "interface: ModelCard(interface=SklearnModel(model=clf), ...)",
        ),
        (
            lambda: ServiceCard(space="a", name="b", card=[]),
            "ServiceCard() got an unexpected argument 'card'; did you mean 'cards'?",
        ),
        (
            lambda: ExperimentCard(space="a", name="b", tagz=[]),
            "ExperimentCard() got an unexpected argument 'tagz'; did you mean 'tags'?",
        ),
    ],
)
def test_unknown_argument_names_the_nearest_valid_one(build: Any, message: str) -> None:
    with pytest.raises(UnknownArgumentError) as caught:
        build()
    assert str(caught.value) == message
    # A TypeError as Python's own, and in opsml's tree for callers that catch that.
    assert isinstance(caught.value, TypeError)
    assert isinstance(caught.value, InvalidArgumentError)


def test_several_unknown_arguments_are_all_named() -> None:
    with pytest.raises(UnknownArgumentError, match=r"'naem' \(and 'spcae'\)"):
        PromptCard(prompt=Prompt(message="hi"), naem="b", spcae="a")


def test_an_argument_nothing_resembles_lists_what_the_card_takes() -> None:
    with pytest.raises(UnknownArgumentError, match=r"'zzz'; it takes .*\bname\b.*\bspace\b"):
        PromptCard(prompt=Prompt(message="hi"), zzz=1)


def test_a_valid_card_is_unchanged() -> None:
    card = PromptCard(prompt=Prompt(message="hi"), space="a", name="b", tags=["stage:prod"])
    assert card.tags == ["stage:prod"]


def test_card_json_of_a_newer_version_still_loads(
    sqlite_registry_env: Path, tmp_path: Path
) -> None:
    """Unknown fields in stored JSON are not constructor arguments: they are ignored."""
    registry = CardRegistry(RegistryType.Prompt)
    card = PromptCard(prompt=Prompt(message="hi"), space="a", name="b")
    registry.register_card(card)
    data = json.loads(card.model_dump_json())
    data["field_of_a_future_version"] = {"x": 1}
    loaded = PromptCard.model_validate_json(json.dumps(data))
    assert (loaded.space, loaded.name, loaded.version) == ("a", "b", card.version)
    again = PromptCard.model_validate(data)
    assert again.uid == card.uid
