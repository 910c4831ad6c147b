"""``opsml webhook add|list|delete|deliveries`` where the database is."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.cli.main import app

runner = CliRunner()


def test_webhook_commands(sqlite_registry_env: Path) -> None:
    added = runner.invoke(
        app, ["webhook", "add", "https://ci.example/hook", "--event", "card.registered", "--json"]
    )
    assert added.exit_code == 0, added.output
    hook = json.loads(added.stdout)
    assert len(hook["secret"]) >= 32  # generated, shown once
    listed = json.loads(runner.invoke(app, ["webhook", "list", "--json"]).stdout)
    assert [(h["id"], h["events"]) for h in listed] == [(hook["id"], ["card.registered"])]
    assert "secret" not in listed[0]

    CardRegistry(RegistryType.Prompt).register_card(
        PromptCard(prompt=Prompt(message="x"), space="s", name="n")
    )
    queued = runner.invoke(app, ["webhook", "deliveries", hook["id"], "--json"])
    assert [(d["event"], d["status"]) for d in json.loads(queued.stdout)] == [
        ("card.registered", "pending")
    ]

    bad = runner.invoke(app, ["webhook", "add", "ftp://x", "--event", "card.registered"])
    assert bad.exit_code == 1
    assert bad.stderr.startswith("error: InvalidArgumentError")
    unknown = runner.invoke(app, ["webhook", "add", "https://x", "--event", "card.exploded"])
    assert "unknown: card.exploded" in unknown.stderr

    assert runner.invoke(app, ["webhook", "delete", hook["id"]]).exit_code == 0
    assert json.loads(runner.invoke(app, ["webhook", "list", "--json"]).stdout) == []
    assert runner.invoke(app, ["webhook", "delete", hook["id"]]).exit_code == 1
