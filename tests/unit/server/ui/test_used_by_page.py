"""The card page's "Used by": the cards referencing this one, and only those of spaces the
viewer may read (a user of team-a never learns of team-b's model through it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opsml import Card, CardRegistry, Prompt, PromptCard, RegistryType, ServiceCard


@pytest.fixture
def prompt_and_services(sqlite_registry_env: Path) -> str:
    prompt = PromptCard(prompt=Prompt(message="hi"), space="team-a", name="greeting")
    CardRegistry(RegistryType.Prompt).register_card(prompt)
    for space in ("team-a", "team-b"):
        CardRegistry(RegistryType.Service).register_card(
            ServiceCard(space=space, name="api", cards=[Card("hi", card=prompt)])
        )
    return str(prompt.uid)


def test_used_by_names_only_readable_cards(
    prompt_and_services: str, ui_login: Callable[[str], TestClient]
) -> None:
    admin = ui_login("ada")
    page = admin.get(f"/ui/prompt/{prompt_and_services}").text
    assert "<h3>Used by</h3>" in page
    assert "team-a/api" in page
    assert "team-b/api" in page

    reader = ui_login("bob")
    page = reader.get(f"/ui/prompt/{prompt_and_services}").text
    assert "team-a/api" in page
    assert "team-b" not in page
