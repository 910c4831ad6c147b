from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsml import CardRegistry, Prompt, PromptCard, RegistryType, __version__
from opsml.cli.main import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == __version__


def test_list_prints_a_table(sqlite_registry_env: Path) -> None:
    CardRegistry(RegistryType.Prompt).register_card(
        PromptCard(prompt=Prompt(message="x"), space="team-a", name="greeting")
    )
    result = runner.invoke(app, ["list", "prompt", "--space", "team-a"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "greeting" in result.stdout
    assert "0.1.0" in result.stdout


def test_errors_are_one_line_and_non_zero(sqlite_registry_env: Path) -> None:
    result = runner.invoke(app, ["list", "prompt", "--version", "^"])
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error: InvalidVersionError")
    assert len(result.stderr.strip().splitlines()) == 1

    result = runner.invoke(app, ["list", "nope"])
    assert result.exit_code == 1
    assert "unknown registry" in result.stderr


def test_gc_on_a_clean_registry(sqlite_registry_env: Path) -> None:
    result = runner.invoke(app, ["gc"])
    assert result.exit_code == 0, result.output
    assert "removed 0 pending records" in result.stdout


def test_help_explains_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("list", "get", "lock", "install", "gc", "server", "version"):
        assert command in result.stdout


def test_server_start_options_are_documented() -> None:
    result = runner.invoke(app, ["server", "start", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in ("--host", "--port", "--workers", "OPSML_SERVER_PORT"):
        assert option in result.stdout
    refused = runner.invoke(app, ["server", "start", "--workers", "0"])
    assert refused.exit_code != 0


def test_get_lock_and_install(sqlite_registry_env: Path, tmp_path: Path) -> None:
    prompt = PromptCard(prompt=Prompt(message="hi ${who}"), space="team-a", name="greeting")
    CardRegistry(RegistryType.Prompt).register_card(prompt)

    result = runner.invoke(
        app, ["get", "prompt", "--space", "team-a", "--name", "greeting", "--write-dir", "got"]
    )
    assert result.exit_code == 0, result.output
    assert PromptCard.from_path(Path("got")).uid == prompt.uid

    project = tmp_path / "svc"
    project.mkdir()
    (project / "opsmlspec.yaml").write_text(
        "name: bot\nspace: team-a\nservice:\n  cards:\n"
        "    - {alias: hello, name: greeting, type: prompt}\n"
    )
    result = runner.invoke(app, ["install", "service", "--path", str(project), "--frozen"])
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error: LockfileError: ")
    assert len(result.stderr.strip().splitlines()) == 1

    result = runner.invoke(app, ["lock", "--path", str(project)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "hello" in result.stdout
    assert prompt.uid in result.stdout
    result = runner.invoke(app, ["install", "service", "--path", str(project), "--frozen"])
    assert result.exit_code == 0, result.output
    assert "1 downloaded" in result.stdout
    assert (project / "opsml_service" / "hello" / "card.json").is_file()

    result = runner.invoke(app, ["get", "model", "--name", "missing"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: CardNotFoundError: ")


def test_service_commands_have_help() -> None:
    for args, words in (
        (["get", "--help"], "--write-dir"),
        (["lock", "--help"], "opsml.lock"),
        (["install", "service", "--help"], "--frozen"),
    ):
        result = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0
        assert words in result.stdout


@pytest.mark.needs("argon2")  # user management needs the server extra
def test_user_admin_commands(sqlite_registry_env: Path) -> None:
    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
        assert result.exit_code == code, result.output
        return result.stdout if code == 0 else result.stderr

    run("user", "create", "root", "--admin", "--password", "root-password-1")
    run("user", "create", "ada", "--grant", "team-a:read,write", "--password", "ada-password")
    listed = run("user", "list")
    assert "team-a:read,write" in listed
    assert "root" in listed
    assert run("user", "delete", "root", code=1).startswith("error: AccountError: ")
    run("user", "set-permissions", "ada", "--grant", "*:read")
    assert "*:read" in run("user", "list")
    created = run("user", "token", "create", "ada", "--name", "ci")
    token_id = created.split()[1]
    assert "opsml_" in created
    assert "active" in run("user", "token", "list")
    run("user", "token", "revoke", token_id)
    assert "revoked" in run("user", "token", "list")
    run("user", "reset-password", "ada", "--password", "new-password-2")
    assert run("user", "create", "x", "--password", "short", code=1).startswith(
        "error: InvalidArgumentError"
    )
    assert "audit log" in run("audit")
    run("user", "delete", "ada")
    assert "ada" not in run("user", "list")


def test_generate_key_and_rotate(sqlite_registry_env: Path) -> None:
    key = runner.invoke(app, ["generate", "key"]).stdout.strip()
    assert key.startswith("opsmlkey-")
    result = runner.invoke(app, ["keys", "rotate"])
    assert result.exit_code == 1
    assert "OPSML_ENCRYPT_SECRET" in result.stderr
    result = runner.invoke(app, ["keys", "rotate"], env={"OPSML_ENCRYPT_SECRET": key})
    assert result.exit_code == 0, result.output
    assert "re-wrapped 0 card keys" in result.stdout
