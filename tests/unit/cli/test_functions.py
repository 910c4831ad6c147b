"""The CLI's Python entry points under OpsML 3's names (``opsml.cli``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsml import __version__, run_opsml_cli
from opsml.cli import generate_key, lock_project, validate_project
from opsml.errors import InvalidArgumentError

SPEC = """\
name: recommender
space: team-a
service:
  cards:
    - {alias: prompt, name: greeting, version: "1.*", type: prompt}
"""


@pytest.mark.needs("cryptography")  # the encrypt extra, to check the key is usable
def test_generate_key_derives_a_usable_master_key(capsys: pytest.CaptureFixture[str]) -> None:
    from opsml.storage._encryption import MasterKeys

    key = generate_key(password="test_password", rounds=10)
    assert key in capsys.readouterr().out
    assert MasterKeys(key).current  # accepted as OPSML_ENCRYPT_SECRET
    assert generate_key("test_password", 10) != key  # a fresh salt every time


@pytest.mark.parametrize(("password", "rounds"), [("", 10), ("pw", 0), ("pw", True)])
def test_generate_key_refuses_bad_arguments(password: str, rounds: int) -> None:
    with pytest.raises(InvalidArgumentError):
        generate_key(password, rounds)


def test_validate_project_reads_the_spec_without_a_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "opsmlspec.yaml").write_text(SPEC)
    validate_project(tmp_path)
    assert "valid" in capsys.readouterr().out
    (tmp_path / "other.yaml").write_text(SPEC)
    validate_project(tmp_path, toml_name="other.yaml")


def test_validate_project_names_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match=r"opsmlspec\.yaml"):
        validate_project(tmp_path)
    (tmp_path / "opsmlspec.yaml").write_text(SPEC.replace("type: prompt", "type: rocket"))
    with pytest.raises(InvalidArgumentError, match="rocket"):
        validate_project(tmp_path)


def test_lock_project_takes_the_spec_file_name(sqlite_registry_env: Path, tmp_path: Path) -> None:
    from opsml import CardRegistry, Prompt, PromptCard, RegistryType

    card = PromptCard(prompt=Prompt(message="hi"), space="team-a", name="greeting", version="1.0.0")
    CardRegistry(RegistryType.Prompt).register_card(card)
    project = tmp_path / "project"
    project.mkdir()
    (project / "service.yaml").write_text(SPEC)
    lock = lock_project(project, toml_name="service.yaml")
    assert (project / "opsml.lock").is_file()
    assert [a.version for a in lock.artifact if a.alias == "prompt"] == ["1.0.0"]


def test_run_opsml_cli_runs_a_command_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    run_opsml_cli(["version"])
    assert capsys.readouterr().out.strip() == __version__


def test_run_opsml_cli_exits_non_zero_on_failure(
    sqlite_registry_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_opsml_cli(["list", "nope"])
    assert exit_info.value.code == 1
    assert "unknown registry type" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        run_opsml_cli(["no-such-command"])
    assert exit_info.value.code == 2


def test_run_opsml_cli_reads_sys_argv_by_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.argv", ["opsml", "version"])
    run_opsml_cli()
    assert capsys.readouterr().out.strip() == __version__
