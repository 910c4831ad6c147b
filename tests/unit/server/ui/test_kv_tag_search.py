"""The UI's tag search finds key/value tags whichever way they were written."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.server import create_app


def test_tag_search_matches_both_spellings(sqlite_registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Prompt)
    for name, tags in (
        ("colon", ["team:search"]),
        ("equals", ["team=search"]),
        ("ads", ["team:ads"]),
    ):
        registry.register_card(
            PromptCard(prompt=Prompt(message="x"), space="s", name=name, tags=tags)
        )
    client = TestClient(create_app(), base_url="http://localhost")
    for typed in ("team=search", "team:search"):
        page = client.get("/ui/prompt", params={"tag": typed}).text
        assert "colon" in page
        assert "equals" in page
        assert "ads" not in page.split("<tbody>")[1]
