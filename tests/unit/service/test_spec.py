"""opsmlspec.yaml parsing and the opsml.lock format, without a registry."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from opsml.errors import InvalidArgumentError, InvalidVersionError, LockfileError
from opsml.service import (
    CardSpec,
    LockArtifact,
    LockedFile,
    LockFile,
    OpsmlServiceSpec,
    ServiceType,
)
from opsml.types import RegistryType

SPEC = """\
name: recommender
space: team-a
type: agent
metadata: {description: "ranks things", tags: ["team:a"]}
service:
  version: 1
  write_dir: build/service
  cards:
    - {alias: model, name: ranker, version: 1.10, type: model}
    - {alias: prompt, space: shared, name: greeting, type: Prompt}
    - {alias: data, uid: 01a00000-0000-7000-8000-000000000001, type: data}
"""


def _write(folder: Path, text: str, name: str = "opsmlspec.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_spec_is_read_from_a_folder_or_a_file(tmp_path: Path) -> None:
    spec = OpsmlServiceSpec.from_path(_write(tmp_path, SPEC))
    assert (spec.name, spec.space, spec.service_type) == (
        "recommender",
        "team-a",
        ServiceType.Agent,
    )
    assert spec.metadata.tags == ["team:a"]
    assert spec.service.version == "1"
    assert spec.root == tmp_path
    model, prompt, data = spec.service.cards
    assert model.version == "1.10"  # scalars stay strings: 1.10 is not the float 1.1
    assert spec.card_space(model) == "team-a"  # defaults to the spec's space
    assert spec.card_space(prompt) == "shared"
    assert spec.card_space(data) is None  # a uid needs no space
    assert prompt.registry_type is RegistryType.Prompt

    other = _write(tmp_path / "other", SPEC, name="opsmlspec.yml")
    assert OpsmlServiceSpec.from_path(other / "opsmlspec.yml").name == "recommender"

    service = spec.service_card()
    assert service.aliases == ["model", "prompt", "data"]
    assert (service.version, service.service_type, service.description) == (
        "1",
        ServiceType.Agent,
        "ranks things",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nspace: s\nservce: {}\n", "servce"),
        (
            "name: x\nspace: s\nservice: {cards: [{alias: m, name: n, type: model, verison: 1}]}\n",
            "verison",
        ),
        (
            "name: x\nspace: s\nservice: {cards: [{alias: m, name: n, type: service}]}\n",
            "card type 'service'",
        ),
        ("name: x\nspace: s\nservice: {cards: [{alias: m, type: model}]}\n", "give a name"),
        (
            "name: x\nspace: s\nservice: {cards: [{alias: m, name: n, type: model}, "
            "{alias: m, name: o, type: data}]}\n",
            "duplicate card alias 'm'",
        ),
        ("name: a/b\nspace: s\n", "name"),
        ("space: s\n", "name"),
        ("- just\n- a list\n", "mapping"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_specs_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        OpsmlServiceSpec.from_path(_write(tmp_path, text))


def test_bad_versions_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidVersionError):
        OpsmlServiceSpec.from_path(
            _write(
                tmp_path,
                "name: x\nspace: s\nservice: {cards: [{alias: m, name: n, "
                "type: model, version: '>>1'}]}\n",
            )
        )
    with pytest.raises(InvalidVersionError):  # the service's version is a version to register
        OpsmlServiceSpec.from_path(_write(tmp_path, "name: x\nspace: s\nservice: {version: ^1}\n"))
    with pytest.raises(InvalidArgumentError, match=r"no opsmlspec\.yaml"):
        OpsmlServiceSpec.from_path(tmp_path / "empty")
    with pytest.raises(InvalidArgumentError, match="card type"):
        CardSpec(alias="m", name="n", type="audit")


def _lock() -> LockFile:
    return LockFile(
        artifact=[
            LockArtifact(
                alias="recommender",
                registry_type="service",
                space="team-a",
                name="recommender",
                version="1.0.0",
                uid="s-uid",
                query="1",
            ),
            LockArtifact(
                alias="model",
                registry_type="model",
                space="team-a",
                name="ranker",
                version="1.10.2",
                uid="m-uid",
                query="1.10",
                files=[LockedFile(path='dir/we"ird name\u00e9\x7f.bin', size=3, sha256="ab" * 32)],
            ),
            LockArtifact(
                alias="prompt",
                registry_type="prompt",
                space="shared",
                name="greeting",
                version="0.1.0",
                uid="p-uid",
            ),
            LockArtifact(
                alias="data",
                registry_type="data",
                space="team-a",
                name="features",
                version="3.0.0",
                uid="01a00000-0000-7000-8000-000000000001",
            ),
        ]
    )


def test_lock_round_trips_through_toml(tmp_path: Path) -> None:
    lock = _lock()
    path = tmp_path / "opsml.lock"
    lock.write(path)
    assert tomllib.loads(path.read_text())["artifact"][1]["files"][0]["sha256"] == "ab" * 32
    again = LockFile.read(path)
    assert again == lock
    assert again.service.uid == "s-uid"
    assert [a.alias for a in again.cards] == ["model", "prompt", "data"]


def test_lock_mismatch_explains_what_changed(tmp_path: Path) -> None:
    spec = OpsmlServiceSpec.from_path(_write(tmp_path, SPEC))
    lock = _lock()
    assert lock.mismatch(spec) is None

    def changed(old: str, new: str) -> str | None:
        return lock.mismatch(OpsmlServiceSpec.from_path(_write(tmp_path, SPEC.replace(old, new))))

    assert "locked version 1.10.2 does not match '2.*'" in str(changed("1.10", "'2.*'"))
    assert "differ from the locked" in str(changed("alias: prompt", "alias: prompt2"))
    assert "is a data card in the spec" in str(changed("type: Prompt", "type: data"))
    assert "is other/greeting in the spec" in str(changed("space: shared", "space: other"))
    assert "has uid" in str(changed("000000000001", "000000000002"))
    assert "service version 1.0.0 does not match '2'" in str(
        changed("version: 1\n", "version: 2\n")
    )
    assert "the lock is for service team-a/recommender" in str(
        changed("name: recommender", "name: other")
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version = 1\n", "no service entry"),
        ("version = [\n", "cannot be read"),
        (
            "version = 2\n[[artifact]]\nalias='s'\nregistry_type='service'\nspace='s'\nname='s'\n"
            "version='1.0.0'\nuid='u'\n",
            "format 2",
        ),
        (
            "[[artifact]]\nalias='m'\nregistry_type='model'\nspace='s'\nname='s'\nversion='1.0.0'\n"
            "uid='u'\n[[artifact.files]]\npath='../../etc/passwd'\nsize=1\nsha256='x'\n",
            "malformed",
        ),
        ("[[artifact]]\nalias='m'\n", "registry_type"),
    ],
)
def test_malformed_locks_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "opsml.lock"
    path.write_text(text)
    with pytest.raises(LockfileError, match=message):
        LockFile.read(path)
    with pytest.raises(LockfileError, match="run `opsml lock` first"):
        LockFile.read(tmp_path / "missing.lock")
