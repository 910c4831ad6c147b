"""opsml lock / opsml install service, in local and client mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from opsml import CardRegistry, DataCard, ModelCard, PromptCard, RegistryType, ServiceCard
from opsml.data import PandasData
from opsml.errors import CardNotFoundError, IntegrityError, LockfileError
from opsml.llm import Prompt
from opsml.model import SklearnModel
from opsml.service import LOCK_FILE, LockFile, install_service, lock_service
from opsml.settings import OpsmlConfig

SPEC = """\
name: recommender
space: team-a
type: Api
service:
  version: "1"
  write_dir: opsml_service
  cards:
    - {alias: model, name: ranker, version: "1.*", type: model}
    - {alias: data, name: features, type: data}
    - {alias: greeting, name: greeting, type: prompt}
    - {alias: farewell, name: farewell, type: prompt}
"""

FRAME = pd.DataFrame({"a": np.arange(30.0), "b": np.arange(30.0) % 7})


def _register_model(version: str, slope: float) -> ModelCard:
    model = LinearRegression().fit(FRAME, FRAME["a"] * slope)
    card = ModelCard(
        interface=SklearnModel(model=model, sample_data=FRAME[:5]),
        space="team-a",
        name="ranker",
        version=version,
    )
    CardRegistry(RegistryType.Model).register_card(card)
    return card


@pytest.fixture
def project(both_modes_registry_env: Path, tmp_path: Path) -> Path:
    _register_model("1.0.0", 2.0)
    CardRegistry(RegistryType.Data).register_card(
        DataCard(interface=PandasData(data=FRAME), space="team-a", name="features")
    )
    for name, message in (("greeting", "hello ${user}"), ("farewell", "bye ${user}")):
        CardRegistry(RegistryType.Prompt).register_card(
            PromptCard(prompt=Prompt(message=message), space="team-a", name=name)
        )
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "opsmlspec.yaml").write_text(SPEC)
    return folder


def test_lock_install_then_reinstall_fetches_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = lock_service(project)
    assert (project / LOCK_FILE).is_file()
    assert [(a.alias, a.version) for a in lock.cards] == [
        ("model", "1.0.0"),
        ("data", "0.1.0"),
        ("greeting", "0.1.0"),
        ("farewell", "0.1.0"),
    ]
    assert {f.path for f in lock.cards[0].files} == {"model.joblib", "sample-data.parquet"}
    assert lock.service.version == "1.0.0"

    # locking again with nothing changed registers no new service version
    assert lock_service(project).service.uid == lock.service.uid
    assert len(CardRegistry(RegistryType.Service).list_cards(name="recommender")) == 1

    report = install_service(project, frozen=True)
    assert report.downloaded == ["model", "data", "greeting", "farewell"]
    assert report.bytes_downloaded == sum(f.size for a in lock.cards for f in a.files) > 0

    service = ServiceCard.from_path(project / "opsml_service")
    assert service.version == "1.0.0"
    assert service["model"].interface.model.predict(FRAME[:1])[0] == pytest.approx(0.0)
    assert service["farewell"].prompt.bind(user="Ada").message[0].content == "bye Ada"

    # everything present and verified: no request at all, even with the registry gone
    monkeypatch.setenv("OPSML_TRACKING_URI", "http://127.0.0.1:9")
    again = install_service(project, frozen=True)
    assert (again.downloaded, again.bytes_downloaded) == ([], 0)
    assert again.up_to_date == ["model", "data", "greeting", "farewell"]


def test_lock_keeps_versions_pinned_until_relocked(project: Path) -> None:
    first = lock_service(project)
    install_service(project)
    _register_model("1.1.0", 3.0)  # a newer match for "1.*" appears

    report = install_service(project)  # the lock still matches the spec: nothing changes
    assert not report.locked
    assert report.downloaded == []
    assert LockFile.read(project / LOCK_FILE) == first

    relocked = lock_service(project)
    assert relocked.cards[0].version == "1.1.0"
    assert relocked.service.version == "1.1.0"  # the service changed: next version in "1"
    report = install_service(project, frozen=True)
    assert report.downloaded == ["model"]
    assert report.up_to_date == ["data", "greeting", "farewell"]
    service = ServiceCard.from_path(project / "opsml_service")
    assert service["model"].version == "1.1.0"
    assert service.uid == relocked.service.uid


def test_a_lock_pins_the_version_an_alias_points_at(project: Path) -> None:
    _register_model("1.1.0", 3.0)
    models = CardRegistry(RegistryType.Model)
    models.set_alias("team-a", "ranker", "prod", "1.0.0")
    spec = project / "opsmlspec.yaml"
    spec.write_text(SPEC.replace('version: "1.*"', 'version: "@prod"'))
    first = lock_service(project)
    assert (first.cards[0].version, first.cards[0].query) == ("1.0.0", "@prod")
    install_service(project, frozen=True)

    models.set_alias("team-a", "ranker", "prod", "1.1.0")  # the lock keeps 1.0.0 ...
    report = install_service(project, frozen=True)
    assert report.downloaded == []
    assert ServiceCard.from_path(project / "opsml_service")["model"].version == "1.0.0"
    relocked = lock_service(project)  # ... until it is locked again
    assert relocked.cards[0].version == "1.1.0"
    assert install_service(project, frozen=True).downloaded == ["model"]


def test_frozen_needs_a_current_lock(project: Path) -> None:
    with pytest.raises(LockfileError, match="not found; run `opsml lock` first"):
        install_service(project, frozen=True)
    lock_service(project)
    spec = project / "opsmlspec.yaml"
    spec.write_text(SPEC.replace('version: "1.*"', 'version: "2.*"'))
    with pytest.raises(LockfileError, match=r"out of date .* locked version 1\.0\.0"):
        install_service(project, frozen=True)
    assert not (project / "opsml_service").exists()


def test_a_tampered_installed_file_fails_with_its_name(project: Path) -> None:
    install_service(project)  # locks first: there is no lock yet
    joblib = project / "opsml_service" / "model" / "model.joblib"
    joblib.write_bytes(joblib.read_bytes() + b"x")
    with pytest.raises(IntegrityError, match=r"model\.joblib of card 'model'"):
        install_service(project)
    report = install_service(project, repair=True)
    assert report.downloaded == ["model"]
    ServiceCard.from_path(project / "opsml_service")  # verifies every file again


def test_a_lock_hash_that_differs_from_the_registry_fails(project: Path) -> None:
    lock_service(project)
    lock_path = project / LOCK_FILE
    lock = LockFile.read(lock_path)
    good = lock.cards[1].files[0].sha256
    lock_path.write_text(lock_path.read_text().replace(good, "0" * 64))
    with pytest.raises(IntegrityError, match=r"file 'data\.parquet' of card 'data'"):
        install_service(project, frozen=True)
    assert not (project / "opsml_service" / "data").exists()


def test_a_tampered_stored_artifact_fails_the_install(
    project: Path, both_modes_registry_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSML_CACHE_MAX_BYTES", "0")  # a client without the registered bytes
    lock_service(project)
    stored = next(both_modes_registry_env.rglob("data.parquet"))
    stored.write_bytes(b"PAR1" + stored.read_bytes()[4:-1] + b"!")
    with pytest.raises(IntegrityError, match=r"data\.parquet"):
        install_service(project, frozen=True)
    assert not (project / "opsml_service" / "data").exists()


def test_lock_and_install_use_the_configuration_they_are_given(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = OpsmlConfig.from_env()  # the registry the project's cards are in
    monkeypatch.setenv("OPSML_TRACKING_URI", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("OPSML_STORAGE_URI", str(tmp_path / "empty"))
    with pytest.raises(CardNotFoundError):
        lock_service(project)  # the environment names an empty registry
    lock = lock_service(project, config=config)
    (project / LOCK_FILE).unlink()
    report = install_service(project, config=config)
    assert report.locked
    assert sorted(report.downloaded) == ["data", "farewell", "greeting", "model"]
    relocked = LockFile.read(project / LOCK_FILE)
    assert relocked.service.uid == lock.service.uid, "the same registry: nothing new registered"
