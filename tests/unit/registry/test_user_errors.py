"""The errors a new user meets first say what is wrong and what to do: a misspelled name
(did you mean), a version that does not exist (the versions that do), which database was
searched (local mode only), a taken version (which card), a ``v`` prefix; and the first use
of a directory's default database is announced."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from opsml import CardRegistry, PromptCard, RegistryType
from opsml.errors import CardNotFoundError, InvalidVersionError, VersionConflictError
from opsml.llm import Prompt


def _register(name: str, version: str | None = None) -> PromptCard:
    card = PromptCard(prompt=Prompt(message="hi"), space="team-a", name=name, version=version)
    CardRegistry(RegistryType.Prompt).register_card(card)
    return card


def test_a_misspelled_name_gets_did_you_mean(both_modes_registry_env: Path) -> None:
    _register("ranker")
    registry = CardRegistry(RegistryType.Prompt)
    with pytest.raises(CardNotFoundError) as caught:
        registry.load_card(space="team-a", name="rankr")
    message = str(caught.value)
    assert message.startswith("no prompt card matches space='team-a', name='rankr'")
    assert "; did you mean 'ranker'?" in message
    if registry.mode.value == "server":  # local mode names the database it searched
        db = both_modes_registry_env.parent / "opsml.db"
        assert message.endswith(f"(searched database {db})")
    else:  # the server's database is not the client's business
        assert "searched" not in message
        assert "opsml.db" not in message


def test_a_missing_version_lists_the_versions_there_are(both_modes_registry_env: Path) -> None:
    _register("ranker")
    _register("ranker")
    with pytest.raises(CardNotFoundError, match=r"; its versions: 0\.2\.0, 0\.1\.0"):
        CardRegistry(RegistryType.Prompt).load_card(space="team-a", name="ranker", version="1.*")


def test_local_mode_names_the_database_it_searched(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db = tmp_path / "elsewhere" / "registry.db"
    db.parent.mkdir()
    monkeypatch.setenv("OPSML_TRACKING_URI", f"sqlite:///{db}")
    monkeypatch.setenv("OPSML_STORAGE_URI", str(tmp_path / "store"))
    with pytest.raises(CardNotFoundError) as caught:
        CardRegistry(RegistryType.Model).load_card(space="team-a", name="ranker")
    assert str(caught.value) == (
        f"no model card matches space='team-a', name='ranker' (searched database {db})"
    )


def test_a_taken_version_names_the_card(both_modes_registry_env: Path) -> None:
    _register("ranker", version="1.0.0")
    with pytest.raises(VersionConflictError) as caught:
        _register("ranker", version="1.0.0")
    assert str(caught.value) == (
        "prompt card team-a/ranker: version 1.0.0 is already registered; leave the version "
        "out to register the next one"
    )


def test_a_v_prefix_suggests_the_version_without_it() -> None:
    with pytest.raises(InvalidVersionError) as caught:
        PromptCard(prompt=Prompt(message="hi"), space="a", name="b", version="v0.1.0")
    assert str(caught.value) == "invalid version 'v0.1.0': drop the leading 'v': '0.1.0'"


def test_a_new_default_database_is_announced_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from opsml.registry import Backends

    notebook = tmp_path / "notebooks"
    notebook.mkdir()
    monkeypatch.chdir(notebook)
    monkeypatch.delenv("OPSML_TRACKING_URI", raising=False)
    monkeypatch.delenv("OPSML_STORAGE_URI", raising=False)
    backends = Backends()
    with caplog.at_level(logging.WARNING, logger="opsml"):
        CardRegistry(RegistryType.Prompt, backends=backends).list_cards()
        CardRegistry(RegistryType.Model, backends=backends).list_cards()
    notices = [r.getMessage() for r in caplog.records if "new, empty registry" in r.getMessage()]
    assert len(notices) == 1
    assert str(notebook / "opsml.db") in notices[0]
    assert "OPSML_TRACKING_URI" in notices[0]
    backends.close()
    caplog.clear()
    # The database exists now: a later process is not told again.
    with caplog.at_level(logging.WARNING, logger="opsml"):
        fresh = Backends()
        CardRegistry(RegistryType.Prompt, backends=fresh).list_cards()
        fresh.close()
    assert not [r for r in caplog.records if "new, empty registry" in r.getMessage()]


def test_an_explicit_database_is_not_announced(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from opsml.registry import Backends

    monkeypatch.setenv("OPSML_TRACKING_URI", f"sqlite:///{tmp_path / 'new.db'}")
    monkeypatch.setenv("OPSML_STORAGE_URI", str(tmp_path / "store"))
    backends = Backends()
    with caplog.at_level(logging.WARNING, logger="opsml"):
        CardRegistry(RegistryType.Prompt, backends=backends).list_cards()
    backends.close()
    assert not [r for r in caplog.records if "new, empty registry" in r.getMessage()]


def test_info_in_local_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPSML_TRACKING_URI", raising=False)
    monkeypatch.delenv("OPSML_STORAGE_URI", raising=False)
    info = CardRegistry(RegistryType.Data).info()
    assert info.mode == "server"
    assert info.database == str(tmp_path / "opsml.db")
    assert info.storage == str(tmp_path / "opsml_registries")
    assert info.tracking_defaulted
    assert info.server_version is None
    text = str(info)
    assert "database:       " + str(tmp_path / "opsml.db") in text
    assert "(default: OPSML_TRACKING_URI is not set)" in text


def test_info_hides_a_database_password(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from opsml.registry._registry import _hide_password

    shown = _hide_password("postgresql+psycopg://alice:s3cret@db.example:5432/opsml")
    assert "s3cret" not in shown
    assert "alice:***@db.example" in shown
