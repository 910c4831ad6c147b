"""XGBoostModel: JSON round trips restore the right class; ONNX matches the native model."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from opsml.card import CardRegistry, ModelCard, RegistryType
from opsml.errors import (
    InvalidArgumentError,
    MissingDependencyError,
    SerializationError,
)
from opsml.interfaces import resolve_interface
from opsml.model import (
    DataType,
    ModelInterfaceMetadata,
    ModelLoadKwargs,
    ModelSaveKwargs,
    ModelType,
    SklearnModel,
    TaskType,
    XGBoostModel,
)

ATOL = 1e-4


@pytest.fixture
def features() -> Any:
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.standard_normal((200, 4)), columns=["a", "b", "c", "d"])


@pytest.fixture
def labels(features: Any) -> Any:
    return (features["a"] - features["c"] > 0).astype(int)


@pytest.fixture
def booster(features: Any, labels: Any) -> Any:
    params = {"objective": "binary:logistic", "max_depth": 3, "seed": 0, "nthread": 1}
    return xgb.train(params, xgb.DMatrix(features, label=labels), num_boost_round=10)


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
    assert isinstance(loaded, XGBoostModel)
    loaded.load(path, metadata.save_metadata, load_kwargs)
    return loaded, metadata


def test_booster_round_trip_as_json(booster: Any, features: Any, tmp_path: Path) -> None:
    interface = XGBoostModel(model=booster, sample_data=features.head(10))

    loaded, metadata = _round_trip(interface, tmp_path)

    assert isinstance(loaded.model, xgb.Booster)
    matrix = xgb.DMatrix(features)
    np.testing.assert_array_equal(loaded.model.predict(matrix), booster.predict(matrix))
    assert loaded.model.feature_names == ["a", "b", "c", "d"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "sample-data.parquet"]
    assert "learner" in json.loads((tmp_path / "model.json").read_text())
    assert metadata.model_type is ModelType.XgbBooster
    assert metadata.task_type is TaskType.Classification
    assert metadata.save_metadata.extra is not None
    assert metadata.save_metadata.extra["xgboost_class"] == "Booster"
    assert metadata.model_specific_metadata["num_boosted_rounds"] == 10


@pytest.mark.parametrize(
    ("make", "model_type", "task"),
    [
        (
            lambda: xgb.XGBClassifier(n_estimators=5, max_depth=3, n_jobs=1),
            ModelType.XgbClassifier,
            "C",
        ),
        (
            lambda: xgb.XGBRegressor(n_estimators=5, max_depth=3, n_jobs=1),
            ModelType.XgbRegressor,
            "R",
        ),
        (
            lambda: xgb.XGBRFClassifier(n_estimators=5, max_depth=3, n_jobs=1),
            ModelType.XgbClassifier,
            "C",
        ),
    ],
    ids=["classifier", "regressor", "rf-classifier"],
)
def test_sklearn_api_restores_its_class(
    make: Any, model_type: ModelType, task: str, features: Any, labels: Any, tmp_path: Path
) -> None:
    model = make().fit(features, labels)

    loaded, metadata = _round_trip(XGBoostModel(model=model, sample_data=features), tmp_path)

    assert type(loaded.model) is type(model)
    predict = "predict_proba" if task == "C" else "predict"
    np.testing.assert_array_equal(
        getattr(loaded.model, predict)(features), getattr(model, predict)(features)
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "sample-data.parquet"]
    assert metadata.model_type is model_type
    expected = TaskType.Classification if task == "C" else TaskType.Regression
    assert metadata.task_type is expected


def test_subclass_is_rebuilt_as_its_xgboost_class(
    features: Any, labels: Any, tmp_path: Path
) -> None:
    class MyClassifier(xgb.XGBClassifier):  # type: ignore[misc]
        pass

    model = MyClassifier(n_estimators=3, n_jobs=1).fit(features, labels)
    loaded, metadata = _round_trip(XGBoostModel(model=model), tmp_path)
    assert type(loaded.model) is xgb.XGBClassifier
    assert metadata.model_specific_metadata["model_class"].endswith("MyClassifier")


@pytest.mark.parametrize(
    ("objective", "task"),
    [
        ("reg:squarederror", TaskType.Regression),
        ("multi:softprob", TaskType.Classification),
        ("rank:pairwise", TaskType.Ranking),
        ("count:poisson", TaskType.Regression),
    ],
)
def test_booster_task_type_follows_the_objective(
    features: Any, objective: str, task: TaskType
) -> None:
    params: dict[str, Any] = {"objective": objective, "nthread": 1}
    if objective.startswith("multi"):
        params["num_class"] = 3
    target = np.random.default_rng(1).integers(0, 3, len(features))
    booster = xgb.train(params, xgb.DMatrix(features, label=target), num_boost_round=1)
    assert XGBoostModel(model=booster).task_type is task


def test_ranker_task_type() -> None:
    assert XGBoostModel(model=xgb.XGBRanker()).task_type is TaskType.Ranking


def test_load_kwargs_reach_the_constructor(booster: Any, tmp_path: Path) -> None:
    save_metadata = XGBoostModel(model=booster).save(tmp_path)
    loaded = XGBoostModel()
    loaded.load(tmp_path, save_metadata, ModelLoadKwargs(model={"params": {"nthread": 2}}))
    assert json.loads(loaded.model.save_config())["learner"]["generic_param"]["nthread"] == "2"


def test_unknown_recorded_class_is_refused(booster: Any, tmp_path: Path) -> None:
    save_metadata = XGBoostModel(model=booster).save(tmp_path).save_metadata
    save_metadata.extra = {**(save_metadata.extra or {}), "xgboost_class": "os.system"}
    with pytest.raises(SerializationError, match="unknown XGBoost class"):
        XGBoostModel().load(tmp_path, save_metadata)


def test_booster_onnx_matches(booster: Any, features: Any, tmp_path: Path) -> None:
    interface = XGBoostModel(model=booster, sample_data=features.head(10))

    loaded, metadata = _round_trip(
        interface, tmp_path, ModelSaveKwargs(save_onnx=True), ModelLoadKwargs(load_onnx=True)
    )

    session = loaded.onnx_session
    _, probabilities = session.run(session.to_input_feed(features))
    np.testing.assert_allclose(
        probabilities[:, 1], booster.predict(xgb.DMatrix(features)), atol=ATOL
    )
    assert booster.feature_names == ["a", "b", "c", "d"]  # the user's booster is untouched
    assert metadata.onnx_schema is not None


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_sklearn_api_onnx_matches(kind: str, features: Any, labels: Any, tmp_path: Path) -> None:
    if kind == "classifier":
        model = xgb.XGBClassifier(n_estimators=10, max_depth=3, n_jobs=1).fit(features, labels)
        native = model.predict_proba(features)
    else:
        model = xgb.XGBRegressor(n_estimators=10, max_depth=3, n_jobs=1).fit(
            features, features["b"]
        )
        native = model.predict(features)

    loaded, _ = _round_trip(
        XGBoostModel(model=model, sample_data=features),
        tmp_path,
        ModelSaveKwargs(save_onnx=True),
        ModelLoadKwargs(load_onnx=True),
    )

    session = loaded.onnx_session
    outputs = session.run(session.to_input_feed(features))
    np.testing.assert_allclose(outputs[-1].reshape(native.shape), native, atol=ATOL)
    assert model.get_booster().feature_names == ["a", "b", "c", "d"]


def test_regressor_in_a_sklearn_pipeline_converts(features: Any, tmp_path: Path) -> None:
    # XGBoost splits at training values; after a float32 scaler in ONNX such a value can
    # land on the other side of its split, so the sample data is held out, as in practice.
    train, sample = features.iloc[:150], features.iloc[150:]
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            ("xgb", xgb.XGBRegressor(n_estimators=5, max_depth=3, n_jobs=1)),
        ]
    ).fit(train, train["a"] * 2)
    interface = SklearnModel(model=pipeline, sample_data=sample)

    interface.save(tmp_path, ModelSaveKwargs(save_onnx=True))

    session = interface.onnx_session
    (prediction,) = session.run(session.to_input_feed(sample))
    np.testing.assert_allclose(prediction.ravel(), pipeline.predict(sample), atol=ATOL)


@pytest.mark.parametrize("wrong", ["model", np.zeros(3), xgb.DMatrix(np.zeros((2, 2)))])
def test_wrong_model_is_rejected_at_construction(wrong: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"expects an xgboost\.Booster"):
        XGBoostModel(model=wrong)


def test_missing_xgboost_names_the_extra(
    booster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_metadata = XGBoostModel(model=booster).save(tmp_path)
    monkeypatch.setitem(sys.modules, "xgboost", None)

    with pytest.raises(MissingDependencyError, match=r"opsml\[xgboost\]"):
        XGBoostModel(model=object())
    with pytest.raises(MissingDependencyError, match=r"opsml\[xgboost\]"):
        XGBoostModel().load(tmp_path, save_metadata)


def test_registry_round_trip(
    both_modes_registry_env: Path, features: Any, labels: Any, tmp_path: Path
) -> None:
    model = xgb.XGBClassifier(n_estimators=5, max_depth=3, n_jobs=1).fit(features, labels)
    registry = CardRegistry(RegistryType.Model)
    card = ModelCard(interface=XGBoostModel(model=model), space="team-a", name="xgb")
    registry.register_card(card)

    loaded = registry.load_card(uid=card.uid)
    loaded.load()

    assert type(loaded.model) is xgb.XGBClassifier
    np.testing.assert_array_equal(
        loaded.model.predict_proba(features), model.predict_proba(features)
    )
    folder = loaded.download_artifacts(tmp_path / "download")
    from_path = ModelCard.load_from_path(folder)
    np.testing.assert_array_equal(from_path.model.predict(features), model.predict(features))


def test_booster_keeps_a_dmatrix_as_sample_data(
    booster: Any, features: Any, tmp_path: Path
) -> None:
    interface = XGBoostModel(model=booster, sample_data=xgb.DMatrix(features))

    loaded, metadata = _round_trip(
        interface, tmp_path, ModelSaveKwargs(save_onnx=True), ModelLoadKwargs(load_onnx=True)
    )

    # As in OpsML 3: the DMatrix itself, cut to its first row.
    assert isinstance(interface.sample_data, xgb.DMatrix)
    assert interface.sample_data.num_row() == 1
    assert metadata.data_type is DataType.DMatrix
    assert metadata.save_metadata.sample_data_uri == Path("sample-data.dmatrix")
    assert list(metadata.schema) == list(features.columns)
    assert isinstance(loaded.sample_data, xgb.DMatrix)
    np.testing.assert_array_equal(
        loaded.sample_data.get_data().toarray(), features.to_numpy()[:1].astype(np.float32)
    )
    _, probabilities = loaded.onnx_session.run({"X": features.to_numpy(np.float32)})
    np.testing.assert_allclose(
        probabilities[:, 1], booster.predict(xgb.DMatrix(features)), atol=ATOL
    )
