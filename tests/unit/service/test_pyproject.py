"""OpsML's project configuration in pyproject.toml: card defaults ([tool.opsml.default],
[tool.opsml.registry]) and services ([[tool.opsml.service]]) for lock, install and
validate_project, in local and client mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opsml import CardRegistry, PromptCard, RegistryType, ServiceCard
from opsml.cli import install_service, lock_project, validate_project
from opsml.errors import InvalidArgumentError, VersionConflictError
from opsml.llm import Prompt
from opsml.service import LOCK_FILE, LockFile, read_project

DEFAULTS = """\
[project]
name = "my-app"

[tool.opsml.default]
space = "team-a"
name = "fallback"

[tool.opsml.registry]
prompt = { name = "greeting" }
"""

SERVICES = """\
[tool.opsml.default]
space = "team-a"

[[tool.opsml.service]]
space = "team-a"
name = "chat"
version = "1"
write_dir = "apps/chat"
cards = [{alias = "hello", name = "greeting", version = "1.*", type = "prompt"}]

[[tool.opsml.service]]
space = "team-a"
name = "bye"
write_dir = "apps/bye"

[[tool.opsml.service.cards]]
alias = "bye"
space = "team-a"
name = "farewell"
type = "prompt"
"""


def prompt_card(**names: str) -> PromptCard:
    return PromptCard(prompt=Prompt(message="hello ${user}"), **names)


def test_cards_take_the_project_defaults(
    both_modes_registry_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(DEFAULTS)
    nested = tmp_path / "src" / "pkg"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)  # found in a parent folder, as OpsML finds it
    registry = CardRegistry(RegistryType.Prompt)
    card = prompt_card()
    registry.register_card(card)
    assert (card.space, card.name, card.version) == ("team-a", "greeting", "0.1.0")
    named = prompt_card(space="team-b", name="own")
    registry.register_card(named)
    assert (named.space, named.name) == ("team-b", "own")  # given names win


def test_opsml_base_path_names_the_project(
    sqlite_registry_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "elsewhere"
    project.mkdir()
    (project / "pyproject.toml").write_text(DEFAULTS.replace("greeting", "from-base-path"))
    monkeypatch.setenv("OPSML_BASE_PATH", str(project))
    card = prompt_card()
    CardRegistry(RegistryType.Prompt).register_card(card)
    assert card.name == "from-base-path"


def test_a_failed_registration_gives_the_defaults_back(
    sqlite_registry_env: Path, tmp_path: Path
) -> None:
    (tmp_path / "pyproject.toml").write_text(DEFAULTS)
    registry = CardRegistry(RegistryType.Prompt)
    registry.register_card(prompt_card(version="2.0.0"))
    taken = prompt_card(version="2.0.0")
    with pytest.raises(VersionConflictError):
        registry.register_card(taken)
    assert (taken.space, taken.name, taken.version) == (None, None, "2.0.0")


def test_malformed_defaults_are_refused(sqlite_registry_env: Path, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.opsml.registry]\nmodels = { name = "x" }\n')
    with pytest.raises(InvalidArgumentError, match="unknown registry 'models'"):
        CardRegistry(RegistryType.Prompt).register_card(prompt_card())
    (tmp_path / "pyproject.toml").write_text('[tool.opsml.default]\nspace = 1\nowner = "me"\n')
    with pytest.raises(InvalidArgumentError, match=r"unknown keys \['owner'\]"):
        CardRegistry(RegistryType.Prompt).register_card(prompt_card())


@pytest.fixture
def project(both_modes_registry_env: Path, tmp_path: Path) -> Path:
    registry = CardRegistry(RegistryType.Prompt)
    registry.register_card(prompt_card(space="team-a", name="greeting", version="1.0.0"))
    registry.register_card(prompt_card(space="team-a", name="farewell"))
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pyproject.toml").write_text(SERVICES)
    return folder


def test_lock_and_install_every_service_of_the_project(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    validate_project(project)
    assert "team-a/chat, team-a/bye" in capsys.readouterr().out
    lock = lock_project(project)
    parts = LockFile.read(project / LOCK_FILE).split()
    assert [(p.service.name, [c.alias for c in p.cards]) for p in parts] == [
        ("chat", ["hello"]),
        ("bye", ["bye"]),
    ]
    assert lock.split()[0].service.version == "1.0.0"  # the spec's version "1"
    report = install_service(project)
    assert report.write_dirs == [project / "apps" / "chat", project / "apps" / "bye"]
    assert sorted(report.downloaded) == ["bye", "hello"]
    assert not report.locked
    chat = ServiceCard.from_path(project / "apps" / "chat")
    assert (chat.name, chat["hello"].name, chat["hello"].version) == ("chat", "greeting", "1.0.0")
    assert ServiceCard.from_path(project / "apps" / "bye")["bye"].name == "farewell"
    again = install_service(project)
    assert again.downloaded == []
    assert sorted(again.up_to_date) == ["bye", "hello"]


def test_a_new_service_in_the_project_relocks(project: Path) -> None:
    lock_project(project)
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(
        text
        + '\n[[tool.opsml.service]]\nspace = "team-a"\nname = "third"\nwrite_dir = "apps/3"\n'
        + 'cards = [{alias = "x", name = "greeting", type = "prompt"}]\n'
    )
    report = install_service(project)
    assert report.locked
    assert [p.service.name for p in LockFile.read(project / LOCK_FILE).split()] == [
        "chat",
        "bye",
        "third",
    ]
    assert json.loads((project / "apps" / "3" / "card.json").read_text())["name"] == "third"


def test_malformed_service_tables_are_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[[tool.opsml.service]]\nspace = "a"\nname = "s"\nwrite_dir = "x"\ncolor = "red"\n'
    )
    with pytest.raises(InvalidArgumentError, match="color"):
        read_project(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[[tool.opsml.service]]\nspace = "a"\nname = "s"\n'
        '[[tool.opsml.service]]\nspace = "a"\nname = "s"\nwrite_dir = "y"\n'
    )
    with pytest.raises(InvalidArgumentError, match="two services share the service"):
        read_project(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "no-services"\n')
    with pytest.raises(InvalidArgumentError, match=r"nor a pyproject.toml with"):
        read_project(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[[tool.opsml.service]]\nspace = "a"\nname = "s"\n'
        'cards = [{alias = "m", name = "m", type = "model", drift = {drift_type = ["kl"]}}]\n'
    )
    with pytest.raises(InvalidArgumentError, match="drift type 'kl'"):
        read_project(tmp_path)
