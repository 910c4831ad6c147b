"""LightGBMModel: Booster and scikit-learn-API round trips, ONNX, and a real registry."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from opsml.card import CardRegistry, ModelCard, RegistryType
from opsml.errors import InvalidArgumentError, MissingDependencyError
from opsml.interfaces import resolve_interface
from opsml.model import (
    LightGBMModel,
    ModelInterfaceMetadata,
    ModelLoadKwargs,
    ModelSaveKwargs,
    ModelType,
    SklearnModel,
    TaskType,
)

ATOL = 1e-4
# One thread: tests run in parallel processes on few cores.
PARAMS = {"num_leaves": 7, "min_data_in_leaf": 5, "verbose": -1, "seed": 0, "num_threads": 1}


@pytest.fixture
def features() -> Any:
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.standard_normal((200, 4)), columns=["a", "b", "c", "d"])


@pytest.fixture
def labels(features: Any) -> Any:
    return (features["a"] + 0.5 * features["b"] > 0).astype(int)


@pytest.fixture
def booster(features: Any, labels: Any) -> Any:
    params = {**PARAMS, "objective": "binary"}
    return lgb.train(params, lgb.Dataset(features, labels), num_boost_round=10)


def _round_trip(
    interface: Any,
    path: Path,
    save_kwargs: ModelSaveKwargs | None = None,
    load_kwargs: ModelLoadKwargs | None = None,
) -> tuple[Any, ModelInterfaceMetadata]:
    save_metadata = interface.save(path, save_kwargs)
    stored = interface.get_interface_metadata(save_metadata).model_dump_json()
    metadata = ModelInterfaceMetadata.model_validate_json(stored)
    loaded = resolve_interface(metadata)
    assert isinstance(loaded, LightGBMModel)
    loaded.load(path, metadata.save_metadata, load_kwargs)
    return loaded, metadata


def test_booster_round_trip_as_text(booster: Any, features: Any, tmp_path: Path) -> None:
    interface = LightGBMModel(model=booster, sample_data=features.head(20))

    loaded, metadata = _round_trip(interface, tmp_path)

    assert isinstance(loaded.model, lgb.Booster)
    np.testing.assert_array_equal(loaded.model.predict(features), booster.predict(features))
    pd.testing.assert_frame_equal(loaded.sample_data.data, features.head(1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.txt", "sample-data.parquet"]
    assert (tmp_path / "model.txt").read_text().startswith("tree")
    assert metadata.model_type is ModelType.LgbmBooster
    assert metadata.task_type is TaskType.Classification
    assert metadata.interface_type == "LightGBMModel"
    assert metadata.model_specific_metadata["lightgbm_version"] == lgb.__version__
    assert metadata.model_specific_metadata["num_trees"] == 10


def test_booster_save_kwargs_reach_save_model(booster: Any, tmp_path: Path) -> None:
    interface = LightGBMModel(model=booster)
    _round_trip(interface, tmp_path, ModelSaveKwargs(model={"num_iteration": 4}))
    assert lgb.Booster(model_file=str(tmp_path / "model.txt")).num_trees() == 4


@pytest.mark.parametrize(
    ("objective", "task"),
    [
        ("regression", TaskType.Regression),
        ("multiclass", TaskType.Classification),
        ("lambdarank", TaskType.Ranking),
    ],
)
def test_booster_task_type_follows_the_objective(
    features: Any, objective: str, task: TaskType, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    target = rng.integers(0, 3, len(features))
    dataset = lgb.Dataset(features, target)
    params = {**PARAMS, "objective": objective}
    if objective == "multiclass":
        params["num_class"] = 3
    if objective == "lambdarank":
        dataset.set_group([20] * 10)
    booster = lgb.train(params, dataset, num_boost_round=2)
    assert LightGBMModel(model=booster).task_type is task

    loaded, _ = _round_trip(LightGBMModel(model=booster), tmp_path)
    assert loaded.task_type is task


def test_sklearn_api_round_trip(features: Any, labels: Any, tmp_path: Path) -> None:
    model = lgb.LGBMClassifier(n_estimators=10, **PARAMS).fit(features, labels)
    interface = LightGBMModel(model=model, sample_data=features.head(10))

    loaded, metadata = _round_trip(interface, tmp_path)

    assert type(loaded.model) is lgb.LGBMClassifier
    np.testing.assert_array_equal(
        loaded.model.predict_proba(features), model.predict_proba(features)
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.joblib", "sample-data.parquet"]
    assert metadata.model_type is ModelType.LgbmClassifier
    assert metadata.task_type is TaskType.Classification
    assert metadata.model_specific_metadata["params"]["n_estimators"] == 10


def test_regressor_and_ranker_task_types(features: Any) -> None:
    regressor = lgb.LGBMRegressor(n_estimators=2, **PARAMS).fit(features, features["a"])
    interface = LightGBMModel(model=regressor)
    assert interface.task_type is TaskType.Regression
    assert interface.model_type is ModelType.LgbmRegressor
    assert LightGBMModel(model=lgb.LGBMRanker()).task_type is TaskType.Ranking
    assert LightGBMModel(model=regressor, task_type="Ranking").task_type is TaskType.Ranking


def test_preprocessor_round_trip(features: Any, labels: Any, tmp_path: Path) -> None:
    scaler = StandardScaler().fit(features)
    model = lgb.LGBMClassifier(n_estimators=5, **PARAMS).fit(scaler.transform(features), labels)
    interface = LightGBMModel(model=model, preprocessor=scaler)

    loaded, metadata = _round_trip(interface, tmp_path)

    assert loaded.preprocessor_name == "StandardScaler"
    np.testing.assert_array_equal(
        loaded.model.predict(loaded.preprocessor.transform(features)),
        model.predict(scaler.transform(features)),
    )
    processor = metadata.save_metadata.data_processor_map["preprocessor"]
    assert processor.uri == Path("preprocessor.joblib")


def test_booster_onnx_matches(booster: Any, features: Any, tmp_path: Path) -> None:
    interface = LightGBMModel(model=booster, sample_data=features.head(10))

    loaded, metadata = _round_trip(
        interface, tmp_path, ModelSaveKwargs(save_onnx=True), ModelLoadKwargs(load_onnx=True)
    )

    session = loaded.onnx_session
    labels, probabilities = session.run({"X": features.to_numpy(np.float32)})
    np.testing.assert_allclose(probabilities[:, 1], booster.predict(features), atol=ATOL)
    np.testing.assert_array_equal(labels, booster.predict(features) > 0.5)
    assert metadata.onnx_schema is not None
    # The batch dimension is dynamic (onnxmltools declares the label as [1]).
    assert [io.shape for io in metadata.onnx_schema.outputs] == [[None], [None, 2]]


def test_regression_booster_onnx_matches(features: Any, tmp_path: Path) -> None:
    target = features["a"] * 3 + features["c"]
    params = {**PARAMS, "objective": "regression"}
    booster = lgb.train(params, lgb.Dataset(features, target), num_boost_round=10)
    interface = LightGBMModel(model=booster, sample_data=features.to_numpy())

    interface.save(tmp_path, ModelSaveKwargs(save_onnx=True))

    (prediction,) = interface.onnx_session.run({"X": features.to_numpy(np.float32)})
    np.testing.assert_allclose(prediction.ravel(), booster.predict(features), atol=ATOL)


def test_classifier_onnx_matches(features: Any, labels: Any, tmp_path: Path) -> None:
    model = lgb.LGBMClassifier(n_estimators=10, **PARAMS).fit(features, labels)
    interface = LightGBMModel(model=model, sample_data=features)

    loaded, _ = _round_trip(
        interface, tmp_path, ModelSaveKwargs(save_onnx=True), ModelLoadKwargs(load_onnx=True)
    )

    session = loaded.onnx_session
    predicted, probabilities = session.run(session.to_input_feed(features))
    np.testing.assert_allclose(probabilities, model.predict_proba(features), atol=ATOL)
    np.testing.assert_array_equal(predicted, model.predict(features))


def test_classifier_in_a_sklearn_pipeline_converts(
    features: Any, labels: Any, tmp_path: Path
) -> None:
    pipeline = Pipeline(
        [("scale", StandardScaler()), ("lgbm", lgb.LGBMClassifier(n_estimators=5, **PARAMS))]
    ).fit(features, labels)
    interface = SklearnModel(model=pipeline, sample_data=features)

    interface.save(tmp_path, ModelSaveKwargs(save_onnx=True))

    session = interface.onnx_session
    _, probabilities = session.run(session.to_input_feed(features))
    np.testing.assert_allclose(probabilities, pipeline.predict_proba(features), atol=ATOL)


@pytest.mark.parametrize(
    "wrong",
    ["model", np.zeros(3), StandardScaler()],
    ids=["str", "ndarray", "sklearn"],
)
def test_wrong_model_is_rejected_at_construction(wrong: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"expects a lightgbm\.Booster"):
        LightGBMModel(model=wrong)


def test_missing_lightgbm_names_the_extra(
    booster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_metadata = LightGBMModel(model=booster).save(tmp_path)
    monkeypatch.setitem(sys.modules, "lightgbm", None)

    with pytest.raises(MissingDependencyError, match=r"opsml\[lightgbm\]"):
        LightGBMModel(model=object())
    with pytest.raises(MissingDependencyError, match=r"opsml\[lightgbm\]"):
        LightGBMModel().load(tmp_path, save_metadata)


def test_registry_round_trip_with_onnx(
    both_modes_registry_env: Path, booster: Any, features: Any, tmp_path: Path
) -> None:
    registry = CardRegistry(RegistryType.Model)
    card = ModelCard(
        interface=LightGBMModel(model=booster, sample_data=features.head(10)),
        space="team-a",
        name="lgbm",
    )
    registry.register_card(card, save_kwargs=ModelSaveKwargs(save_onnx=True))

    loaded = registry.load_card(space="team-a", name="lgbm")
    assert loaded.metadata.interface_metadata.onnx_schema.inputs[0].name == "X"
    loaded.load(load_kwargs=ModelLoadKwargs(load_onnx=True))

    assert isinstance(loaded.interface, LightGBMModel)
    np.testing.assert_array_equal(loaded.model.predict(features), booster.predict(features))
    _, probabilities = loaded.onnx_session.run({"X": features.to_numpy(np.float32)})
    np.testing.assert_allclose(probabilities[:, 1], booster.predict(features), atol=ATOL)

    folder = loaded.download_artifacts(tmp_path / "download")
    assert {"card.json", "model.txt", "onnx-model.onnx", "sample-data.parquet"} <= {
        p.name for p in folder.iterdir()
    }
    from_path = ModelCard.load_from_path(folder, load_kwargs=ModelLoadKwargs(load_onnx=True))
    np.testing.assert_array_equal(from_path.model.predict(features), booster.predict(features))
    assert from_path.onnx_session is not None
