"""The card page shows the aliases of the card and of each version in its version list."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.server import create_app


def test_alias_badges_on_the_card_page_and_its_versions(sqlite_registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Prompt)
    cards = [PromptCard(prompt=Prompt(message="x"), space="team", name="hello") for _ in range(3)]
    for card in cards:
        registry.register_card(card)
    registry.set_alias("team", "hello", "prod", "0.1.0")
    registry.set_alias("team", "hello", "canary", "0.3.0")
    client = TestClient(create_app(), base_url="http://localhost")

    page = client.get(f"/ui/prompt/{cards[0].uid}").text
    overview = page.split('id="h-overview"')[1].split("</section>")[0]
    assert re.findall(r">@(\w+)</span>", overview) == ["prod"]
    versions = page.split('id="h-versions"')[1].split("</section>")[0]
    rows = {
        version: re.findall(r">@(\w+)</span>", row)
        for row in versions.split("<tr")[2:]
        for version in re.findall(r">(\d+\.\d+\.\d+)<", row)[:1]
    }
    assert rows == {"0.3.0": ["canary"], "0.2.0": [], "0.1.0": ["prod"]}

    unaliased = client.get(f"/ui/prompt/{cards[1].uid}").text
    assert "Aliases:" not in unaliased.split('id="h-overview"')[1].split("</section>")[0]
