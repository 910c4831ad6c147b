"""``opsml list --tag key=value`` finds key/value tags in either spelling."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.cli.main import app

runner = CliRunner()


def test_list_by_key_value_tag(sqlite_registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Prompt)
    for name, tag in (("a", "team:search"), ("b", "team=ads")):
        registry.register_card(
            PromptCard(prompt=Prompt(message="x"), space="s", name=name, tags=[tag])
        )
    found = runner.invoke(app, ["list", "prompt", "--tag", "team=search", "--json"])
    assert [c["name"] for c in json.loads(found.stdout)] == ["a"]
    found = runner.invoke(app, ["list", "prompt", "--tag", "team:ads", "--json"])
    assert [c["name"] for c in json.loads(found.stdout)] == ["b"]
