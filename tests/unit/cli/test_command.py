"""``opsml`` help and usage errors: every command and option described on one line with no
type tags, ``--version``, and one-line errors that name the fix (``did you mean``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from opsml import CardRegistry, Prompt, PromptCard, RegistryType, __version__
from opsml.cli.main import app

runner = CliRunner()


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command and group under ``group``, with the words that call it."""
    found = [(path, group)]
    for name, command in getattr(group, "commands", {}).items():
        found += _commands(command, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))
IDS = [" ".join(path) or "opsml" for path, _ in COMMANDS]


def test_every_command_is_reachable() -> None:
    paths = {" ".join(path) for path, _ in COMMANDS}
    for path in ("list", "get", "lock", "install service", "gc", "server start", "version"):
        assert path in paths
    assert "user token list" in paths


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=IDS)
def test_help_is_clean(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert not re.search(r"<[a-z]", text), text  # no <bool>, <str>, <int>, <list[str]>
    assert "Usage: opsml" in text
    assert "Traceback" not in text
    if "Commands:" in text:
        rows = text.split("Commands:\n", 1)[1].splitlines()
        # one line per command: no continuation lines (which start with more indentation)
        assert all(re.match(r"  [a-z-]+  +\S", row) for row in rows if row.strip()), text


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_every_command_and_option_is_described(path: tuple[str, ...], command: Any) -> None:
    assert command.help, f"opsml {' '.join(path)} has no description"
    for param in command.params:
        assert param.help, f"opsml {' '.join(path)}: {param.name} has no description"


def test_version_flag() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == __version__


def test_a_bare_group_prints_its_help() -> None:
    result = runner.invoke(app, ["user"])
    assert result.exit_code == 2
    assert "Usage: opsml user" in result.stderr
    assert "token" in result.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["lsit", "model"], "error: No such command 'lsit'. Did you mean 'list'?"),
        (["user", "lsit"], "error: No such command 'lsit'. Did you mean 'list'?"),
        (
            ["list", "model", "--spcae", "x"],
            "error: No such option: --spcae. Did you mean --space?",
        ),
        (
            ["get", "model", "--write_dir", "x"],
            "error: No such option: --write_dir. Did you mean --write-dir?",
        ),
        (["list", "model", "--limit", "many"], "error: Invalid value for '--limit'"),
        (["list"], "error: Missing argument 'REGISTRY'. (see 'opsml list --help')"),
    ],
)
def test_usage_errors_are_one_line_with_the_fix(args: list[str], says: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(says)
    assert result.stdout == ""


def _register(space: str, name: str) -> PromptCard:
    card = PromptCard(prompt=Prompt(message="hi"), space=space, name=name)
    CardRegistry(RegistryType.Prompt).register_card(card)
    return card


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (
            ["get", "prompt", "--space", "team-a", "--name", "greetng"],
            "--space team-a --name greeting",
        ),
        (
            ["get", "prompt", "--space", "tema-a", "--name", "greeting"],
            "--space team-a --name greeting",
        ),
        (["get", "prompt", "--name", "Greting"], "--name greeting"),
        (["get", "prompt", "--space", "tema-a"], "--space team-a"),
        (["get", "promt", "--name", "greeting"], "'prompt'"),
    ],
)
def test_a_misspelled_card_or_registry_gets_did_you_mean(
    sqlite_registry_env: Path, args: list[str], hint: str
) -> None:
    _register("team-a", "greeting")
    _register("team-b", "ranker")
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    assert f"did you mean {hint}?" in line


def test_no_suggestion_when_the_name_exists(sqlite_registry_env: Path) -> None:
    _register("team-a", "greeting")
    result = runner.invoke(app, ["get", "prompt", "--name", "greeting", "--version", "2.*"])
    assert result.exit_code == 1
    db = sqlite_registry_env.parent / "opsml.db"
    assert result.stderr.strip() == (
        "error: CardNotFoundError: no prompt card matches name='greeting', version='2.*'; "
        f"its versions: 0.1.0 (searched database {db})"
    )
    result = runner.invoke(app, ["get", "prompt", "--name", "zzzzzz"])
    assert "did you mean" not in result.stderr


def test_an_empty_listing_suggests_the_name(sqlite_registry_env: Path) -> None:
    _register("team-a", "greeting")
    result = runner.invoke(app, ["list", "prompt", "--name", "greetin", "--json"])
    assert result.exit_code == 0
    assert result.stdout.strip() == "[]"
    assert result.stderr.strip() == "no card matches; did you mean --name greeting?"


def test_the_opsml_process_prints_one_line(sqlite_registry_env: Path) -> None:
    """The installed entry point, not only the in-process runner: one line, no traceback."""
    _register("team-a", "greeting")
    for args, code, says in (
        (["get", "prompt", "--name", "greetng"], 1, "did you mean --name greeting?"),
        (["lsit"], 2, "Did you mean 'list'?"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "opsml.cli.main", *args],
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == code
        (line,) = done.stderr.splitlines()
        assert line.startswith("error: ")
        assert says in line
