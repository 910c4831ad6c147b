"""CatBoostModel: ``model.cbm`` round trips restore the class; ONNX export matches."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import catboost
import numpy as np
import pandas as pd
import pytest

from opsml.card import CardRegistry, ModelCard, RegistryType
from opsml.errors import InvalidArgumentError, MissingDependencyError
from opsml.interfaces import resolve_interface
from opsml.model import (
    CatBoostModel,
    ModelInterfaceMetadata,
    ModelLoadKwargs,
    ModelSaveKwargs,
    ModelType,
    TaskType,
)

ATOL = 1e-4
PARAMS = {
    "iterations": 10,
    "depth": 3,
    "verbose": 0,
    "allow_writing_files": False,
    "thread_count": 1,
}


@pytest.fixture
def features() -> Any:
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.standard_normal((150, 3)), columns=["a", "b", "c"])


@pytest.fixture
def labels(features: Any) -> Any:
    return (features["a"] > features["b"]).astype(int)


@pytest.fixture
def classifier(features: Any, labels: Any) -> Any:
    return catboost.CatBoostClassifier(**PARAMS).fit(features, labels)


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
    assert isinstance(loaded, CatBoostModel)
    loaded.load(path, metadata.save_metadata, load_kwargs)
    return loaded, metadata


def test_classifier_round_trip(classifier: Any, features: Any, tmp_path: Path) -> None:
    interface = CatBoostModel(model=classifier, sample_data=features.head(10))

    loaded, metadata = _round_trip(interface, tmp_path)

    assert type(loaded.model) is catboost.CatBoostClassifier
    np.testing.assert_array_equal(
        loaded.model.predict_proba(features), classifier.predict_proba(features)
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.cbm", "sample-data.parquet"]
    assert metadata.model_type is ModelType.Catboost
    assert metadata.task_type is TaskType.Classification
    assert metadata.model_specific_metadata["tree_count"] == 10


def test_regressor_round_trip(features: Any, tmp_path: Path) -> None:
    model = catboost.CatBoostRegressor(**PARAMS).fit(features, features["a"] * 2)

    loaded, metadata = _round_trip(CatBoostModel(model=model), tmp_path)

    assert type(loaded.model) is catboost.CatBoostRegressor
    np.testing.assert_array_equal(loaded.model.predict(features), model.predict(features))
    assert metadata.task_type is TaskType.Regression


@pytest.mark.parametrize(
    ("loss", "task"),
    [
        ("Logloss", TaskType.Classification),
        ("MultiClass", TaskType.Classification),
        ("RMSE", TaskType.Regression),
        ("YetiRank", TaskType.Ranking),
    ],
)
def test_plain_catboost_task_follows_the_loss(loss: str, task: TaskType) -> None:
    model = catboost.CatBoost({"loss_function": loss})
    assert CatBoostModel(model=model).task_type is task


def test_ranker_task_type() -> None:
    assert CatBoostModel(model=catboost.CatBoostRanker()).task_type is TaskType.Ranking


def test_onnx_export_matches(classifier: Any, features: Any, tmp_path: Path) -> None:
    interface = CatBoostModel(model=classifier, sample_data=features.head(10))

    loaded, metadata = _round_trip(
        interface, tmp_path, ModelSaveKwargs(save_onnx=True), ModelLoadKwargs(load_onnx=True)
    )

    session = loaded.onnx_session
    labels, probabilities = session.run(session.to_input_feed(features))
    np.testing.assert_allclose(probabilities, classifier.predict_proba(features), atol=ATOL)
    np.testing.assert_array_equal(labels, classifier.predict(features))
    assert metadata.onnx_schema is not None
    assert [io.type for io in metadata.onnx_schema.outputs] == ["tensor(int64)", "tensor(float)"]


def test_wrong_model_is_rejected_at_construction() -> None:
    with pytest.raises(InvalidArgumentError, match="expects a catboost model"):
        CatBoostModel(model=np.zeros(2))


def test_missing_catboost_names_the_extra(
    classifier: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_metadata = CatBoostModel(model=classifier).save(tmp_path)
    monkeypatch.setitem(sys.modules, "catboost", None)

    with pytest.raises(MissingDependencyError, match=r"opsml\[catboost\]"):
        CatBoostModel(model=object())
    with pytest.raises(MissingDependencyError, match=r"opsml\[catboost\]"):
        CatBoostModel().load(tmp_path, save_metadata)


def test_registry_round_trip(
    both_modes_registry_env: Path, classifier: Any, features: Any, tmp_path: Path
) -> None:
    registry = CardRegistry(RegistryType.Model)
    card = ModelCard(interface=CatBoostModel(model=classifier), space="team-a", name="cat")
    registry.register_card(card)

    loaded = registry.load_card(uid=card.uid)
    loaded.load()

    np.testing.assert_array_equal(
        loaded.model.predict_proba(features), classifier.predict_proba(features)
    )
    folder = loaded.download_artifacts(tmp_path / "download")
    from_path = ModelCard.load_from_path(folder)
    assert type(from_path.model) is catboost.CatBoostClassifier
