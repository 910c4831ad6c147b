"""A service downloaded by OpsML 3 (``download_service`` of OpsML 3.0.0-rc.16) loads into an
AppState: its card.json nests the references (``{"cards": {"cards": [...]}}``), names the
model interface ``"Sklearn"``, records no manifest and no sample-data interface. The folder
here is written the way OpsML 3 writes it (field for field, from a download it made)."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
from scouter.drift import Drifter, PsiDriftConfig
from sklearn.linear_model import LinearRegression

from opsml import ServiceCard
from opsml.app import AppState
from opsml.mock import MockConfig

SERVICE_UID = "01a24001-929f-74d2-a12f-95f0ef6897dd"
MODEL_UID = "01a24001-926d-7e83-a129-7cbe113facc8"


def write_opsml3_download(folder: Path) -> np.ndarray:
    rng = np.random.default_rng(3)
    features = rng.random((100, 3))
    model_dir = folder / "model"
    (model_dir / "drift").mkdir(parents=True)
    joblib.dump(LinearRegression().fit(features, features[:, 0]), model_dir / "model.joblib")
    np.save(model_dir / "data.npy", features[:5])
    profile = Drifter().create_drift_profile(
        features, PsiDriftConfig(space="s", name="m", version="0.1.0")
    )
    profile.save_to_json(model_dir / "drift" / "psi.json")
    model_card = {
        "name": "m", "space": "s", "version": "0.1.0", "uid": MODEL_UID, "tags": [],
        "metadata": {
            "datacard_uid": None, "experimentcard_uid": None, "auditcard_uid": None,
            "interface_metadata": {
                "task_type": "Undefined", "model_type": "SklearnEstimator", "data_type": "Numpy",
                "onnx_session": None,
                "schema": {"items": {"numpy_array": {
                    "feature_type": "float64", "shape": [1, 3], "extra_args": {}}}},
                "save_metadata": {
                    "model_uri": "model.joblib", "data_processor_map": {},
                    "sample_data_uri": "data.npy",
                    "drift_profile_uri_map": {"psi": {
                        "root_dir": "drift", "uri": "drift/psi.json", "drift_type": "Psi"}},
                },
                "extra_metadata": {}, "interface_type": "Sklearn",
                "model_specific_metadata": {"n_features_in_": 3},
            },
        },
        "registry_type": "Model", "created_at": "2026-12-04T07:42:54.573097Z",
        "app_env": "development", "is_card": True, "opsml_version": "3.0.0-rc.16",
    }  # fmt: skip
    service_card = {
        "space": "s", "name": "svc", "version": "0.1.0", "uid": SERVICE_UID,
        "created_at": "2026-12-04T07:42:54.623160Z",
        "cards": {"cards": [{
            "space": "s", "name": "m", "version": "0.1.0", "uid": MODEL_UID,
            "registry_type": "Model", "alias": "model"}]},
        "opsml_version": "3.0.0-rc.16", "app_env": "development", "is_card": True,
        "registry_type": "Service", "experimentcard_uid": None,
    }  # fmt: skip
    (model_dir / "card.json").write_text(json.dumps(model_card))
    (folder / "card.json").write_text(json.dumps(service_card))
    (folder / "card_map.json").write_text(
        json.dumps({"card_paths": {"model": "app/model"}, "drift_paths": {"psi": "x"}})
    )
    return features


def test_a_service_downloaded_by_opsml3_serves(tmp_path: Path) -> None:
    features = write_opsml3_download(tmp_path / "app")
    service = ServiceCard.from_path(tmp_path / "app")
    model = service["model"]
    assert (service.name, service.version, model.version) == ("svc", "0.1.0", "0.1.0")
    assert np.allclose(model.model.predict(features[:2]), features[:2, 0])
    assert np.array_equal(model.interface.sample_data.data, features[:5])
    with AppState.from_path(tmp_path / "app", transport_config=MockConfig()) as app:
        assert app.queue["psi"].identifier == "s/m/v0.1.0/psi"
