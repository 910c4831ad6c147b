from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

from opsml import (
    CardRegistries,
    CardRegistry,
    DataCard,
    ModelCard,
    NumpyData,
    PandasData,
    Prompt,
    PromptCard,
    RegistryMode,
    RegistryType,
    SklearnModel,
    VersionType,
)
from opsml.errors import (
    CardNotFoundError,
    CardStateError,
    CardTypeError,
    IntegrityError,
    InvalidArgumentError,
    InvalidNameError,
    InvalidVersionError,
    SerializationError,
    VersionConflictError,
)
from opsml.model import ModelInterface


@pytest.fixture(scope="module")
def trained() -> tuple[RandomForestClassifier, pd.DataFrame]:
    x, y = make_classification(n_samples=200, n_features=4, random_state=0)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(4)])
    clf = RandomForestClassifier(n_estimators=5, random_state=0).fit(frame, y)
    return clf, frame


def _model_card(trained: tuple[Any, pd.DataFrame], **kwargs: Any) -> ModelCard:
    clf, frame = trained
    return ModelCard(
        interface=SklearnModel(model=clf, sample_data=frame[:5]),
        space=kwargs.pop("space", "team-a"),
        name=kwargs.pop("name", "ranker"),
        **kwargs,
    )


def test_register_list_load_round_trip(registry_env: Path, trained: Any) -> None:
    registry = CardRegistry(RegistryType.Model)
    client_mode = os.environ["OPSML_TRACKING_URI"].startswith("http")
    assert registry.mode is (RegistryMode.Client if client_mode else RegistryMode.Server)
    assert registry.table_name == "opsml_model_registry"

    first = _model_card(trained)
    registry.register_card(first)
    assert first.version == "0.1.0"
    assert first.uid is not None
    assert uuid.UUID(first.uid).version == 7
    assert first.created_at is not None

    second = _model_card(trained)
    registry.register_card(second, version_type=VersionType.Major)
    assert second.version == "1.0.0"
    third = _model_card(trained)
    registry.register_card(third, version_type="patch")
    assert third.version == "1.0.1"

    listed = registry.list_cards(space="team-a", name="ranker", version="^1")
    assert [r.version for r in listed] == ["1.0.1", "1.0.0"]
    assert len(registry.list_cards(space="team-a", name="ranker")) == 3

    loaded = registry.load_card(space="team-a", name="ranker", version="1.*")
    assert loaded.version == "1.0.1"
    assert loaded.uid == third.uid
    assert loaded.interface is None, "load_card is lazy: metadata only"
    loaded.load()
    clf, frame = trained
    np.testing.assert_array_equal(loaded.model.predict(frame), clf.predict(frame))
    pd.testing.assert_frame_equal(loaded.interface.sample_data.data, frame[:1])  # first row


def test_load_by_uid_and_latest(registry_env: Path, trained: Any) -> None:
    registry = CardRegistry("model")
    final = _model_card(trained)
    registry.register_card(final)  # 0.1.0
    pre = _model_card(trained)
    registry.register_card(pre, version_type=VersionType.Minor, pre_tag="rc")  # 0.2.0-rc.1
    assert pre.version == "0.2.0-rc.1"

    assert registry.load_card(space="team-a", name="ranker").version == "0.1.0"
    assert registry.load_card(uid=pre.uid).version == "0.2.0-rc.1"
    assert registry.load_card(space="team-a", name="ranker", version="0.2.0-rc.1").uid == pre.uid


def test_latest_is_a_prerelease_only_when_no_final_exists(registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Prompt)
    card = PromptCard(prompt=Prompt(message="hi"), space="s", name="p")
    registry.register_card(card, version_type=VersionType.Pre)
    assert registry.load_card(space="s", name="p").version == card.version
    assert card.version is not None
    assert "-" in card.version


def test_explicit_version_conflict_changes_nothing(registry_env: Path, trained: Any) -> None:
    registry = CardRegistry(RegistryType.Model)
    registry.register_card(_model_card(trained, version="1.2.3"))
    clash = _model_card(trained, version="1.2.3")
    with pytest.raises(VersionConflictError, match=r"1\.2\.3"):
        registry.register_card(clash)
    assert clash.uid is None
    assert clash.version == "1.2.3"
    assert len(registry.list_cards(space="team-a", name="ranker")) == 1
    assert sorted(
        p.name for p in (registry_env / "opsml_model_registry/team-a/ranker").iterdir()
    ) == ["v1.2.3"]


def test_partial_version_allocates_inside_the_prefix(registry_env: Path, trained: Any) -> None:
    registry = CardRegistry(RegistryType.Model)
    registry.register_card(_model_card(trained, version="2.4.0"))
    card = _model_card(trained, version="2")
    registry.register_card(card)
    assert card.version == "2.5.0"
    other = _model_card(trained, version="1")
    registry.register_card(other)
    assert other.version == "1.0.0"


@pytest.mark.parametrize("query", ["^1.2", "~1", "1.x", ">=1.0, <2", "*", "1"])
def test_version_queries_never_crash(registry_env: Path, trained: Any, query: str) -> None:
    registry = CardRegistry(RegistryType.Model)
    registry.register_card(_model_card(trained, version="1.2.5"))
    assert [
        r.version for r in registry.list_cards(space="team-a", name="ranker", version=query)
    ] == ["1.2.5"]


@pytest.mark.parametrize("query", ["^", "1.2.3.4", "abc", ">=", "1..2", "~>1"])
def test_malformed_queries_raise_invalid_version(registry_env: Path, query: str) -> None:
    registry = CardRegistry(RegistryType.Model)
    with pytest.raises(InvalidVersionError):
        registry.list_cards(space="team-a", name="ranker", version=query)
    with pytest.raises(InvalidVersionError):
        registry.load_card(space="team-a", name="ranker", version=query)


def test_flipped_byte_in_storage_fails_load(
    registry_env: Path, trained: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = CardRegistry(RegistryType.Model)
    card = _model_card(trained)
    registry.register_card(card)
    model_file = registry_env / "opsml_model_registry/team-a/ranker/v0.1.0/model.joblib"
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_file.write_bytes(bytes(data))

    loaded = registry.load_card(uid=card.uid)
    if registry.mode is RegistryMode.Client:
        # The client that registered the card keeps the bytes it sent (verified) in its
        # cache: they load, and match the model.
        loaded.load()
        clf, frame = trained
        assert np.array_equal(loaded.interface.model.predict(frame), clf.predict(frame))
        monkeypatch.setenv("OPSML_CACHE_MAX_BYTES", "0")  # any other client downloads them
        loaded = CardRegistry(RegistryType.Model).load_card(uid=card.uid)
    with pytest.raises(IntegrityError, match=r"model\.joblib"):
        loaded.load()
    assert loaded.interface is None, "nothing corrupt may be returned"


def test_update_card_metadata_and_rename(registry_env: Path, trained: Any) -> None:
    registry = CardRegistry(RegistryType.Model)
    a = _model_card(trained, tags=["stage:dev"])
    registry.register_card(a)
    b = _model_card(trained)
    registry.register_card(b)

    a.tags = ["stage:prod", "owner:me"]
    registry.update_card(a)
    again = registry.load_card(uid=a.uid)
    assert again.tags == ["stage:prod", "owner:me"]
    assert [r.uid for r in registry.list_cards(tags=["stage:prod"])] == [a.uid]

    a.version = b.version
    with pytest.raises(VersionConflictError):
        registry.update_card(a)
    a.version = "5.0.0"
    registry.update_card(a)
    moved = registry.load_card(space="team-a", name="ranker", version="5.0.0")
    assert moved.uid == a.uid
    moved.load()
    clf, frame = trained
    np.testing.assert_array_equal(moved.model.predict(frame), clf.predict(frame))


def test_update_keeps_artifact_metadata(registry_env: Path, trained: Any) -> None:
    registry = CardRegistry(RegistryType.Model)
    card = _model_card(trained)
    registry.register_card(card)
    stored = registry.load_card(uid=card.uid)
    registered = stored.metadata.interface_metadata
    assert registered is not None
    assert registered.interface_type == "SklearnModel"

    stored.metadata.interface_metadata = None  # lost locally...
    stored.tags = ["stage:prod"]  # ...while the user changes what an update may change
    registry.update_card(stored)

    again = registry.load_card(uid=card.uid)
    assert again.tags == ["stage:prod"]
    assert again.metadata.interface_metadata == registered  # artifacts never change
    again.load()
    clf, frame = trained
    np.testing.assert_array_equal(again.model.predict(frame), clf.predict(frame))


def test_delete_card_removes_record_and_files(registry_env: Path, trained: Any) -> None:
    registry = CardRegistry(RegistryType.Model)
    card = _model_card(trained)
    registry.register_card(card)
    registry.delete_card(card)
    assert len(registry.list_cards(space="team-a", name="ranker")) == 0
    assert not (registry_env / "opsml_model_registry/team-a/ranker").exists()
    with pytest.raises(CardNotFoundError):
        registry.load_card(uid=card.uid)
    with pytest.raises(CardNotFoundError):
        registry.delete_card(card)


def test_wrong_card_type_and_double_registration(registry_env: Path, trained: Any) -> None:
    data_registry = CardRegistry(RegistryType.Data)
    card = _model_card(trained)
    with pytest.raises(CardTypeError):
        data_registry.register_card(card)
    model_registry = CardRegistry(RegistryType.Model)
    model_registry.register_card(card)
    with pytest.raises(CardStateError, match="already registered"):
        model_registry.register_card(card)


def test_unknown_linked_datacard_is_rejected_before_writing(
    registry_env: Path, trained: Any
) -> None:
    registry = CardRegistry(RegistryType.Model)
    card = _model_card(trained, datacard_uid="0190f0f0-0000-7000-8000-000000000000")
    with pytest.raises(CardNotFoundError, match="not registered"):
        registry.register_card(card)
    assert card.uid is None
    assert not (registry_env / "opsml_model_registry").exists()


def test_datacards_link_from_modelcards(registry_env: Path, trained: Any) -> None:
    _, frame = trained
    data = DataCard(interface=PandasData(data=frame), space="team-a", name="features")
    CardRegistry(RegistryType.Data).register_card(data)
    model = _model_card(trained, datacard_uid=data.uid)
    CardRegistry(RegistryType.Model).register_card(model)
    record = CardRegistry(RegistryType.Model).list_cards(uid=model.uid)[0]
    assert record.datacard_uids == [data.uid]
    assert record.interface_type == "SklearnModel"


class _FailingModel(ModelInterface):
    def save(self, path: Path, save_kwargs: Any = None) -> Any:
        (path / "model.bin").write_bytes(b"half")
        raise RuntimeError("disk full")


def test_failed_save_leaves_nothing(registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Model)
    card = ModelCard(interface=_FailingModel(), space="s", name="broken")
    with pytest.raises(SerializationError, match="disk full"):
        registry.register_card(card)
    assert card.uid is None
    assert card.version is None
    assert len(registry.list_cards(name="broken")) == 0
    leftovers = [p for p in registry_env.rglob("*") if p.is_file()]
    assert leftovers == []


def test_datacard_pandas_and_numpy_round_trip(registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Data)
    frame = pd.DataFrame(
        {"a": [1, 2, 3], "b": ["x", "y", None], "c": pd.to_datetime(["2024-01-01"] * 3, utc=True)},
        index=pd.Index([10, 20, 30], name="row"),
    )
    card = DataCard(interface=PandasData(data=frame), space="s", name="frame", tags=["k:v"])
    registry.register_card(card)
    loaded = registry.load_card(space="s", name="frame")
    loaded.load()
    pd.testing.assert_frame_equal(loaded.data, frame)
    assert "a" in loaded.metadata.schema

    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    np_card = DataCard(interface=NumpyData(data=array), space="s", name="array")
    registry.register_card(np_card)
    np_loaded = registry.load_card(space="s", name="array")
    np_loaded.load()
    np.testing.assert_array_equal(np_loaded.data, array)
    assert np_loaded.data.dtype == np.float32


def test_prompt_card_round_trip(registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Prompt)
    prompt = Prompt(message="Hello ${name}", model="gpt-4o", provider="openai")
    card = PromptCard(prompt=prompt, space="s", name="greeting")
    registry.register_card(card)
    loaded = registry.load_card(space="s", name="greeting")
    assert loaded.prompt.model_identifier == "openai:gpt-4o"
    assert loaded.prompt.bind(name="Ada").message[0].content == "Hello Ada"


def test_list_filters(registry_env: Path) -> None:
    registry = CardRegistry(RegistryType.Prompt)
    for i, tags in enumerate([["a"], ["a", "b"], ["b"]]):
        registry.register_card(
            PromptCard(prompt=Prompt(message=f"m{i}"), space="s", name=f"n{i}", tags=tags)
        )
    assert {r.name for r in registry.list_cards(tags=["a"])} == {"n0", "n1"}
    assert {r.name for r in registry.list_cards(tags=["a", "b"])} == {"n1"}
    assert [r.name for r in registry.list_cards(sort_by_timestamp=True)] == ["n2", "n1", "n0"]
    assert len(registry.list_cards(limit=2)) == 2
    today = datetime.now(UTC).date()
    assert len(registry.list_cards(max_date=today.isoformat())) == 3
    assert len(registry.list_cards(max_date=(today - timedelta(days=1)).isoformat())) == 0
    assert len(registry.list_cards(max_date=date(2000, 1, 1))) == 0
    with pytest.raises(InvalidArgumentError, match="YYYY-MM-DD"):
        registry.list_cards(max_date="yesterday")
    with pytest.raises(InvalidArgumentError, match="limit"):
        registry.list_cards(limit=0)
    with pytest.raises(InvalidNameError):
        registry.list_cards(space="../etc")
    assert len(registry.list_cards(space="S")) == 3, "filters are lowercased like names"


def test_card_registries_share_configuration(registry_env: Path) -> None:
    registries = CardRegistries()
    assert registries.model.registry_type is RegistryType.Model
    assert registries.data.registry_type is RegistryType.Data
    assert registries.service.registry_type is RegistryType.Service


def test_unknown_registry_type(registry_env: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown registry"):
        CardRegistry("nope")


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_corrupt_data_file_fails_load_and_returns_nothing(
    registry_env: Path, damage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSML_CACHE_MAX_BYTES", "0")  # client mode: every byte from the server
    registry = CardRegistry(RegistryType.Data)
    frame = pd.DataFrame({"x": np.arange(1000, dtype=np.float64), "y": ["a", "b"] * 500})
    card = DataCard(interface=PandasData(data=frame), space="s", name="frame")
    registry.register_card(card)
    stored = registry_env / "opsml_data_registry/s/frame/v0.1.0/data.parquet"
    data = bytearray(stored.read_bytes())
    if damage == "flip":
        data[len(data) // 3] ^= 0x01
    else:
        del data[len(data) // 2 :]
    stored.write_bytes(bytes(data))

    loaded = registry.load_card(uid=card.uid)
    with pytest.raises(IntegrityError, match=r"data\.parquet"):
        loaded.load()
    assert loaded.interface is None, "nothing read from a corrupt file may be returned"


def test_corruption_after_a_good_load_is_caught_on_the_next_load(
    registry_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSML_CACHE_MAX_BYTES", "0")  # client mode: every byte from the server
    registry = CardRegistry(RegistryType.Data)
    frame = pd.DataFrame({"x": np.arange(1000, dtype=np.float64)})
    card = DataCard(interface=PandasData(data=frame), space="s", name="frame")
    registry.register_card(card)
    registry.load_card(uid=card.uid).load()

    stored = registry_env / "opsml_data_registry/s/frame/v0.1.0/data.parquet"
    data = bytearray(stored.read_bytes())
    data[len(data) // 3] ^= 0x01
    stored.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"data\.parquet"):
        registry.load_card(uid=card.uid).load()
