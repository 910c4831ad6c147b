"""What ``opsml`` prints: tables that keep uids whole (piped or on a terminal) and ``--json``
with the keys docs/cli.md documents.

The table tests run the real ``opsml`` process, its output piped or on a pseudo-terminal, as
a user's shell would."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.cli.main import app

runner = CliRunner()

LONG_NAME = "a-card-name-long-enough-that-an-80-column-table-has-to-wrap-it"
CARD_KEYS = {
    "uid",
    "created_at",
    "app_env",
    "space",
    "name",
    "version",
    "registry_type",
    "tags",
    "datacard_uids",
    "modelcard_uids",
    "experimentcard_uids",
    "auditcard_uid",
    "interface_type",
    "data_type",
    "model_type",
    "task_type",
}
"""The keys of one card in ``opsml list --json``, as docs/cli.md lists them."""


def _register(name: str, space: str = "team-a", **kwargs: object) -> PromptCard:
    card = PromptCard(prompt=Prompt(message="hi"), space=space, name=name, **kwargs)
    CardRegistry(RegistryType.Prompt).register_card(card)
    return card


def _opsml(*args: str) -> list[str]:
    return [sys.executable, "-m", "opsml.cli.main", *args]


def test_piped_tables_are_full_width(sqlite_registry_env: Path) -> None:
    cards = [_register(LONG_NAME), _register("ranker", tags=["stage:prod", "owner:ml-platform"])]
    env = {**os.environ, "COLUMNS": "80"}  # exported by some shells: a pipe still gets it all
    done = subprocess.run(
        _opsml("list", "prompt"), env=env, capture_output=True, text=True, timeout=120, check=True
    )
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) > 80
    for card in cards:
        (row,) = [line for line in lines if f" {card.name} " in line]
        assert f" {card.uid} " in row  # whole, on the card's own line: grep finds it
    assert "stage:prod, owner:ml-platform" in done.stdout


def _in_terminal(args: list[str], columns: int) -> str:
    """Run ``args`` with stdout on a pseudo-terminal ``columns`` wide; its output."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1", "TERM": "xterm"}
    with subprocess.Popen(args, stdout=slave, stderr=slave, env=env) as proc:
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal closed: the process is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=120) == 0, b"".join(chunks).decode()
    os.close(master)
    text = b"".join(chunks).decode().replace("\r\n", "\n")
    return re.sub(r"\x1b\[[0-9;]*m", "", text)  # bold and italic (NO_COLOR keeps them)


def test_terminal_tables_fit_and_keep_uids_whole(sqlite_registry_env: Path) -> None:
    card = _register(LONG_NAME)
    out = _in_terminal(_opsml("list", "prompt"), columns=100)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert any(card.uid in line for line in lines)  # the name folds, the uid does not
    assert LONG_NAME not in out


def test_list_json_has_the_documented_keys(sqlite_registry_env: Path) -> None:
    card = _register("ranker", tags=["stage:prod"])
    result = runner.invoke(app, ["list", "prompt", "--json"])
    assert result.exit_code == 0, result.output
    (listed,) = json.loads(result.stdout)
    assert set(listed) == CARD_KEYS
    assert listed["uid"] == card.uid
    assert (listed["space"], listed["name"], listed["version"]) == ("team-a", "ranker", "0.1.0")
    assert listed["tags"] == ["stage:prod"]
    assert listed["registry_type"] == "prompt"

    empty = runner.invoke(app, ["list", "prompt", "--json", "--space", "team-b"])
    assert empty.exit_code == 0
    assert json.loads(empty.stdout) == []


def test_get_says_which_version_and_uid_it_wrote(sqlite_registry_env: Path) -> None:
    _register("ranker")
    newest = _register("ranker")
    result = runner.invoke(app, ["get", "prompt", "--name", "ranker", "--write-dir", "got"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"wrote prompt card team-a/ranker version 0.2.0 (uid {newest.uid}) to got"
    )

    result = runner.invoke(
        app, ["get", "prompt", "--name", "ranker", "--version", "0.1.*", "--json"]
    )
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    assert set(written) == {"registry_type", "space", "name", "version", "uid", "path"}
    assert written["version"] == "0.1.0"
    assert written["uid"] != newest.uid
    assert PromptCard.from_path(Path(written["path"])).uid == written["uid"]
    assert Path(written["path"]) == Path("artifacts").resolve()


def test_lock_json_lists_the_pinned_cards(sqlite_registry_env: Path, tmp_path: Path) -> None:
    card = _register("greeting")
    (tmp_path / "opsmlspec.yaml").write_text(
        "name: bot\nspace: team-a\nservice:\n  cards:\n"
        "    - {alias: hello, name: greeting, type: prompt}\n"
    )
    result = runner.invoke(app, ["lock", "--path", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    service, hello = json.loads(result.stdout)
    assert (service["registry_type"], service["name"]) == ("service", "bot")
    assert hello == (
        {
            "alias": "hello",
            "registry_type": "prompt",
            "space": "team-a",
            "name": "greeting",
            "version": "0.1.0",
            "uid": card.uid,
        }
    )


@pytest.mark.needs("argon2")  # user management needs the server extra
def test_user_token_and_audit_json(sqlite_registry_env: Path) -> None:
    def run(*args: str) -> object:
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    for args in (
        ["user", "create", "root", "--admin", "--password", "root-password-1"],
        ["user", "create", "ada", "--grant", "team-a:read,write", "--password", "ada-password"],
        ["user", "token", "create", "ada", "--name", "nightly CI"],
    ):
        assert runner.invoke(app, args).exit_code == 0

    assert run("user", "list") == [
        {"username": "ada", "admin": False, "permissions": {"team-a": ["read", "write"]}},
        {"username": "root", "admin": True, "permissions": {}},
    ]
    (token,) = run("user", "token", "list")  # type: ignore[misc]
    assert set(token) == {"token_id", "username", "name", "state", "created_at", "expires_at"}
    assert (token["username"], token["name"], token["state"]) == ("ada", "nightly CI", "active")
    assert token["expires_at"] is None
    assert run("audit") == []  # the CLI writes no audit lines: only server requests do
