"""Drift profiles travel with Model and Data cards: registered as verified files, loaded back
with the card's identity, kept by download_artifacts and ServiceCard.from_path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from opsml import Card, CardRegistry, DataCard, ModelCard, RegistryType, ServiceCard
from opsml.data import PandasData
from opsml.errors import IntegrityError, InvalidArgumentError
from opsml.model import ModelLoadKwargs, ModelSaveKwargs, SklearnModel
from opsml.scouter.alert import AlertThreshold
from opsml.scouter.drift import (
    CustomDriftProfile,
    CustomMetric,
    CustomMetricDriftConfig,
    PsiDriftConfig,
    PsiDriftProfile,
    SpcDriftProfile,
)
from opsml.types import DriftArgs

MODEL_DIR = "opsml_model_registry/team/churn/v0.1.0"


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 200
    return pd.DataFrame(
        {
            "tenure": rng.integers(1, 60, n),
            "spend": rng.gamma(2.0, 30.0, n),
            "plan": pd.Categorical(rng.choice(["basic", "pro"], n)),
        }
    )


def _model_card(frame: pd.DataFrame) -> ModelCard:
    numeric = frame[["tenure", "spend"]]
    model = LogisticRegression().fit(numeric, numeric["spend"] > 60)
    interface = SklearnModel(model=model, sample_data=numeric)
    interface.create_drift_profile("spc", frame)
    interface.create_drift_profile("psi", frame, PsiDriftConfig())
    metric = CustomMetric(name="auc", value=0.8, alert_threshold=AlertThreshold.Below)
    interface.create_drift_profile("custom", [metric], CustomMetricDriftConfig())
    return ModelCard(interface=interface, space="team", name="churn")


def test_registered_profiles_load_back_with_the_card_identity(
    both_modes_registry_env: Path, frame: pd.DataFrame
) -> None:
    card = _model_card(frame)
    registry = CardRegistry(RegistryType.Model)
    registry.register_card(card, save_kwargs=ModelSaveKwargs(drift=DriftArgs(active=True)))

    # The registered card's own profiles now carry its identity.
    psi = card.drift_profile["psi"].config
    assert (psi.space, psi.name, psi.version) == ("team", "churn", card.version)
    assert card.drift_profile_path("psi") == Path("drift/psi.json")
    stored = card.manifest.files if card.manifest else {}
    assert {"drift/spc.json", "drift/psi.json", "drift/custom.json"} <= set(stored)

    loaded = registry.load_card(uid=card.uid)
    assert loaded.drift_profile.is_empty()  # metadata only until load()
    loaded.load(load_kwargs=ModelLoadKwargs())
    profiles = loaded.drift_profile
    assert [type(profiles[a]) for a in ("spc", "psi", "custom")] == [
        SpcDriftProfile,
        PsiDriftProfile,
        CustomDriftProfile,
    ]
    for alias in profiles:
        config = profiles[alias].config
        assert (config.space, config.name, config.version) == ("team", "churn", "0.1.0")
    assert sorted(profiles["spc"].features) == ["plan", "spend", "tenure"]


def test_a_flipped_byte_in_a_drift_profile_fails_the_load(
    both_modes_registry_env: Path, frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSML_CACHE_MAX_BYTES", "0")  # client mode: every byte from the server
    card = _model_card(frame)
    registry = CardRegistry(RegistryType.Model)
    registry.register_card(card)
    stored = both_modes_registry_env / MODEL_DIR / "drift" / "psi.json"
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))

    loaded = registry.load_card(uid=card.uid)
    with pytest.raises(IntegrityError, match=r"drift/psi\.json"):
        loaded.load()
    assert loaded.interface is None, "nothing read from a corrupt file may be returned"


def test_download_artifacts_and_load_from_path_keep_the_profiles(
    sqlite_registry_env: Path, frame: pd.DataFrame, tmp_path: Path
) -> None:
    card = _model_card(frame)
    CardRegistry(RegistryType.Model).register_card(card)
    loaded = CardRegistry(RegistryType.Model).load_card(uid=card.uid)
    folder = loaded.download_artifacts(tmp_path / "artifacts")
    assert sorted(p.name for p in (folder / "drift").iterdir()) == [
        "custom.json",
        "psi.json",
        "spc.json",
    ]
    assert json.loads((folder / loaded.drift_profile_path("spc")).read_text())["config"]

    offline = ModelCard.load_from_path(folder)
    assert offline.drift_profile["psi"].config.version == "0.1.0"
    with pytest.raises(InvalidArgumentError, match=r"no saved drift profile 'nope'.*custom"):
        offline.drift_profile_path("nope")


def test_data_cards_carry_drift_profiles_too(
    both_modes_registry_env: Path, frame: pd.DataFrame
) -> None:
    interface = PandasData(data=frame)
    interface.create_drift_profile("psi", frame, PsiDriftConfig())
    card = DataCard(interface=interface, space="team", name="features")
    registry = CardRegistry(RegistryType.Data)
    registry.register_card(card)

    loaded = registry.load_card(uid=card.uid)
    loaded.load()
    profile = loaded.drift_profile["psi"]
    assert isinstance(profile, PsiDriftProfile)
    assert (profile.config.name, profile.config.version) == ("features", "0.1.0")
    assert loaded.drift_profile_path("psi") == Path("drift/psi.json")


def test_a_service_installed_offline_loads_its_model_profiles(
    sqlite_registry_env: Path, frame: pd.DataFrame, tmp_path: Path
) -> None:
    card = _model_card(frame)
    CardRegistry(RegistryType.Model).register_card(card)
    service = ServiceCard(space="team", name="api", cards=[Card("model", card=card)])
    CardRegistry(RegistryType.Service).register_card(service)
    folder = (
        CardRegistry(RegistryType.Service).load_card(uid=service.uid).download_artifacts(tmp_path)
    )
    assert (folder / "model" / "drift" / "spc.json").is_file()

    offline = ServiceCard.from_path(folder)
    assert sorted(offline["model"].drift_profile) == ["custom", "psi", "spc"]
    assert offline["model"].drift_profile["spc"].config.name == "churn"


def test_a_full_version_asked_for_is_in_the_stored_files(
    sqlite_registry_env: Path, frame: pd.DataFrame
) -> None:
    card = _model_card(frame)
    card.version = "2.0.0"
    CardRegistry(RegistryType.Model).register_card(card)
    stored = sqlite_registry_env / "opsml_model_registry/team/churn/v2.0.0/drift/spc.json"
    config = json.loads(stored.read_text())["config"]
    assert (config["space"], config["name"], config["version"]) == ("team", "churn", "2.0.0")
