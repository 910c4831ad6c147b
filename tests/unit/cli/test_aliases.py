"""``opsml alias set|delete|list`` and ``opsml list --version @alias``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.cli.main import app

runner = CliRunner()


def test_alias_commands(sqlite_registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Prompt)
    for _ in range(2):
        registry.register_card(PromptCard(prompt=Prompt(message="x"), space="team-a", name="hi"))
    where = ["--space", "team-a", "--name", "hi"]

    result = runner.invoke(app, ["alias", "set", "prompt", "prod", "0.1.0", *where])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "team-a/hi@prod -> 0.1.0"
    result = runner.invoke(app, ["alias", "set", "prompt", "prod", "0.2.0", *where, "--json"])
    assert json.loads(result.stdout)["version"] == "0.2.0"

    listed = runner.invoke(app, ["alias", "list", "prompt", "--json"])
    assert [(a["alias"], a["version"]) for a in json.loads(listed.stdout)] == [("prod", "0.2.0")]
    table = runner.invoke(app, ["alias", "list", "prompt"], env={"COLUMNS": "200"})
    assert "1 alias" in table.stdout
    assert "0.2.0" in table.stdout
    cards = runner.invoke(app, ["list", "prompt", "--version", "@prod", "--json"])
    assert [c["version"] for c in json.loads(cards.stdout)] == ["0.2.0"]

    missing = runner.invoke(app, ["alias", "set", "prompt", "prod", "0.7.0", *where])
    assert missing.exit_code == 1
    assert missing.stderr.startswith("error: CardNotFoundError")
    bad = runner.invoke(app, ["alias", "set", "prompt", "latest", "0.1.0", *where])
    assert bad.exit_code == 1
    assert "reserved" in bad.stderr

    deleted = runner.invoke(app, ["alias", "delete", "prompt", "prod", *where])
    assert deleted.exit_code == 0, deleted.output
    assert registry.list_aliases() == []
    again = runner.invoke(app, ["alias", "delete", "prompt", "prod", *where])
    assert again.exit_code == 1
