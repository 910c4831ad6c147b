"""SklearnModel: joblib round trips give identical predictions; metadata says what it is."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.cluster import KMeans
from sklearn.ensemble import IsolationForest, RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from opsml.data import PandasData
from opsml.errors import (
    InvalidArgumentError,
    MissingDependencyError,
    SerializationError,
    UnsupportedTypeError,
)
from opsml.interfaces import resolve_interface
from opsml.model import (
    DataType,
    ModelInterfaceMetadata,
    ModelInterfaceSaveMetadata,
    ModelLoadKwargs,
    ModelSaveKwargs,
    ModelType,
    ProcessorType,
    SklearnModel,
    TaskType,
)


@pytest.fixture
def features() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.standard_normal((60, 3)), columns=["a", "b", "c"])


@pytest.fixture
def labels(features: pd.DataFrame) -> pd.Series:
    return (features["a"] + features["b"] > 0).astype("int64")


def _round_trip(
    interface: SklearnModel,
    path: Path,
    save_kwargs: ModelSaveKwargs | None = None,
    load_kwargs: ModelLoadKwargs | None = None,
) -> tuple[SklearnModel, ModelInterfaceMetadata]:
    """Save, store the metadata as JSON, rebuild the interface from it and load."""
    save_metadata = interface.save(path, save_kwargs)
    stored = interface.get_interface_metadata(save_metadata).model_dump_json()
    metadata = ModelInterfaceMetadata.model_validate_json(stored)
    loaded = resolve_interface(metadata)
    assert isinstance(loaded, SklearnModel)
    assert loaded.model is None
    loaded.load(path, metadata.save_metadata, load_kwargs)
    return loaded, metadata


def test_classifier_round_trip_predicts_identically(
    features: pd.DataFrame, labels: pd.Series, tmp_path: Path
) -> None:
    model = RandomForestClassifier(n_estimators=5, random_state=1).fit(features, labels)
    interface = SklearnModel(model=model, sample_data=features.head(10))

    loaded, metadata = _round_trip(interface, tmp_path)

    np.testing.assert_array_equal(
        loaded.model.predict_proba(features), model.predict_proba(features)
    )
    # As in OpsML 3: the sample data is its first row, handed out as its data interface.
    assert isinstance(loaded.sample_data, PandasData)
    pd.testing.assert_frame_equal(loaded.sample_data.data, features.head(1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.joblib", "sample-data.parquet"]
    assert metadata.save_metadata.model_uri == Path("model.joblib")
    assert metadata.save_metadata.sample_data_uri == Path("sample-data.parquet")
    assert metadata.task_type is TaskType.Classification
    assert metadata.model_type is ModelType.SklearnEstimator
    assert metadata.data_type is DataType.Pandas
    assert metadata.interface_type == "SklearnModel"
    assert list(metadata.schema) == ["a", "b", "c"]
    assert loaded.task_type is TaskType.Classification
    assert loaded.schema == metadata.schema


def test_pipeline_with_preprocessor_and_numpy_sample_data(
    features: pd.DataFrame, labels: pd.Series, tmp_path: Path
) -> None:
    x = features.to_numpy()
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, labels)
    preprocessor = StandardScaler().fit(x)
    interface = SklearnModel(pipeline, preprocessor, sample_data=x[:5])

    loaded, metadata = _round_trip(interface, tmp_path)

    np.testing.assert_array_equal(loaded.model.predict_proba(x), pipeline.predict_proba(x))
    np.testing.assert_array_equal(loaded.preprocessor.transform(x), preprocessor.transform(x))
    np.testing.assert_array_equal(loaded.sample_data.data, x[:1])
    assert metadata.model_type is ModelType.SklearnPipeline
    assert metadata.data_type is DataType.Numpy
    assert metadata.schema["numpy_array"].shape == [1, 3]
    processor = metadata.save_metadata.data_processor_map["preprocessor"]
    assert (processor.name, processor.uri) == ("StandardScaler", Path("preprocessor.joblib"))
    assert processor.type is ProcessorType.Preprocessor
    assert loaded.preprocessor_name == "StandardScaler"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "model.joblib",
        "preprocessor.joblib",
        "sample-data.npy",
    ]


def test_model_without_sample_data_or_preprocessor(tmp_path: Path) -> None:
    x = np.arange(10, dtype=float).reshape(5, 2)
    model = LinearRegression().fit(x, x.sum(axis=1))

    loaded, metadata = _round_trip(SklearnModel(model=model), tmp_path)

    np.testing.assert_array_equal(loaded.model.predict(x), model.predict(x))
    assert loaded.sample_data is None
    assert loaded.preprocessor is None
    assert metadata.data_type is DataType.NotProvided
    assert len(metadata.schema) == 0
    assert metadata.save_metadata.sample_data_uri is None
    assert metadata.save_metadata.data_processor_map == {}


@pytest.mark.parametrize(
    ("model", "task_type"),
    [
        (LogisticRegression(), TaskType.Classification),
        (LinearRegression(), TaskType.Regression),
        (make_pipeline(StandardScaler(), LinearRegression()), TaskType.Regression),
        (KMeans(n_clusters=2, n_init=1), TaskType.Clustering),
        (IsolationForest(), TaskType.AnomalyDetection),
        (StandardScaler(), TaskType.Undefined),
    ],
    ids=["classifier", "regressor", "pipeline", "clusterer", "outlier-detector", "transformer"],
)
def test_task_type_is_inferred_from_the_estimator(model: object, task_type: TaskType) -> None:
    assert SklearnModel(model=model).task_type is task_type


def test_explicit_task_type_wins_and_survives_the_round_trip(
    features: pd.DataFrame, labels: pd.Series, tmp_path: Path
) -> None:
    model = LogisticRegression().fit(features, labels)
    interface = SklearnModel(model=model, task_type="ranking")

    loaded, metadata = _round_trip(interface, tmp_path)

    assert interface.task_type is TaskType.Ranking
    assert metadata.task_type is TaskType.Ranking
    assert loaded.task_type is TaskType.Ranking


def test_unknown_task_type_is_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="unknown task_type 'guessing'"):
        SklearnModel(model=LinearRegression(), task_type="guessing")


def test_metadata_records_library_versions_and_parameters(tmp_path: Path) -> None:
    interface = SklearnModel(model=RandomForestClassifier(n_estimators=7, max_depth=np.int64(3)))
    interface.model.fit(np.eye(4), [0, 1, 0, 1])

    metadata = interface.get_interface_metadata(interface.save(tmp_path))

    specific = metadata.model_specific_metadata
    assert specific["sklearn_version"] == sklearn.__version__
    assert specific["model_class"] == "sklearn.ensemble._forest.RandomForestClassifier"
    assert specific["params"]["n_estimators"] == 7
    assert specific["params"]["max_depth"] == 3
    assert metadata.model_dump(mode="json")["model_specific_metadata"] == specific


@pytest.mark.parametrize(
    "wrong",
    ["not a model", pd.DataFrame({"a": [1]}), object()],
    ids=["str", "dataframe", "object"],
)
def test_non_estimator_is_rejected_at_construction(wrong: object) -> None:
    with pytest.raises(InvalidArgumentError, match="expects a scikit-learn estimator"):
        SklearnModel(model=wrong)


def test_unsupported_sample_data_is_rejected_at_construction() -> None:
    wrong = r"cannot take sample data of type builtins\.list"
    with pytest.raises(UnsupportedTypeError, match=wrong):
        SklearnModel(model=LinearRegression(), sample_data=[[1, 2]])
    with pytest.raises(InvalidArgumentError, match="pickles"):
        SklearnModel(model=LinearRegression(), sample_data=np.array([None, 1], dtype=object))


def test_sample_data_may_be_given_as_a_data_interface(features: pd.DataFrame) -> None:
    given = PandasData(data=features)
    interface = SklearnModel(model=LinearRegression(), sample_data=given)

    # OpsML 3 keeps the very interface, cut to its first row.
    assert interface.sample_data is given
    pd.testing.assert_frame_equal(given.data, features.head(1))
    assert interface.data_type is DataType.Pandas


def test_save_kwargs_reach_joblib(tmp_path: Path) -> None:
    interface = SklearnModel(model=LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]))

    save_metadata = interface.save(tmp_path, ModelSaveKwargs(model={"compress": 3})).save_metadata

    assert (tmp_path / "model.joblib").read_bytes()[:1] == b"\x78"  # a zlib stream, not a pickle
    assert save_metadata.save_kwargs is not None
    assert save_metadata.save_kwargs.model == {"compress": 3}


def test_saving_without_a_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SerializationError, match="SklearnModel has no model to save"):
        SklearnModel().save(tmp_path)


def test_onnx_is_refused_clearly_until_supported(tmp_path: Path) -> None:
    interface = SklearnModel(model=LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]))

    with pytest.raises(SerializationError, match="ONNX"):
        interface.save(tmp_path, ModelSaveKwargs(save_onnx=True))
    save_metadata = interface.save(tmp_path)
    with pytest.raises(SerializationError, match="saved without ONNX"):
        SklearnModel().load(tmp_path, save_metadata, ModelLoadKwargs(load_onnx=True))


def test_failed_load_leaves_the_interface_untouched(
    features: pd.DataFrame, labels: pd.Series, tmp_path: Path
) -> None:
    model = LogisticRegression().fit(features, labels)
    save_metadata = SklearnModel(model=model, sample_data=features).save(tmp_path)
    (tmp_path / "sample-data.parquet").unlink()

    interface = SklearnModel()
    with pytest.raises(SerializationError, match=r"sample-data\.parquet"):
        interface.load(tmp_path, save_metadata)

    assert interface.model is None
    assert interface.sample_data is None


def test_corrupt_model_file_is_a_serialization_error(tmp_path: Path) -> None:
    save_metadata = SklearnModel(model=LinearRegression()).save(tmp_path)
    (tmp_path / "model.joblib").write_bytes(b"not a pickle")

    with pytest.raises(SerializationError, match=r"could not read .*model\.joblib"):
        SklearnModel().load(tmp_path, save_metadata)


def test_a_file_holding_something_else_is_rejected(tmp_path: Path) -> None:
    import joblib

    save_metadata = SklearnModel(model=LinearRegression()).save(tmp_path)
    joblib.dump({"not": "an estimator"}, tmp_path / "model.joblib")

    with pytest.raises(InvalidArgumentError, match="expects a scikit-learn estimator"):
        SklearnModel().load(tmp_path, save_metadata)


def test_missing_sklearn_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = LinearRegression()
    save_metadata = SklearnModel(model=model).save(tmp_path)
    monkeypatch.setitem(sys.modules, "sklearn", None)

    with pytest.raises(MissingDependencyError) as at_construction:
        SklearnModel(model=model)
    with pytest.raises(MissingDependencyError) as at_load:
        SklearnModel().load(tmp_path, save_metadata)

    for info in (at_construction, at_load):
        assert info.value.extra == "sklearn"
        assert "opsml[sklearn]" in str(info.value)


def test_save_metadata_paths_must_stay_inside_the_card_folder() -> None:
    for good in (Path("sub/model.joblib"), "./sub/model.joblib", "sub\\model.joblib"):
        assert ModelInterfaceSaveMetadata(model_uri=good).model_uri == Path("sub/model.joblib")
    for bad in (
        "../model.joblib",
        "/etc/passwd",
        "C:/model.joblib",
        "a/../../b",
        "..\\model.joblib",
        "\\\\server\\share\\model.joblib",
        "",
    ):
        with pytest.raises(ValueError, match="relative to the card folder"):
            ModelInterfaceSaveMetadata(model_uri=bad)
    json_text = '{"model_uri": "model.joblib", "sample_data_uri": "../../escape.parquet"}'
    with pytest.raises(ValueError, match="relative to the card folder"):
        ModelInterfaceSaveMetadata.model_validate_json(json_text)


def test_default_model_file_is_a_plain_pickle_that_joblib_reads(
    features: pd.DataFrame, labels: pd.Series, tmp_path: Path
) -> None:
    import joblib

    model = RandomForestClassifier(n_estimators=3, random_state=0).fit(features, labels)
    save_metadata = SklearnModel(model=model).save(tmp_path).save_metadata
    assert save_metadata.extra is not None
    assert save_metadata.extra["model_serializer"] == "pickle"
    by_joblib = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(by_joblib.predict(features), model.predict(features))


def test_joblib_written_model_loads_back(tmp_path: Path) -> None:
    model = LinearRegression().fit([[0.0], [1.0]], [0.0, 2.0])
    interface = SklearnModel(model=model)
    save_metadata = interface.save(tmp_path, ModelSaveKwargs(model={"compress": 3})).save_metadata
    assert save_metadata.extra is not None
    assert save_metadata.extra["model_serializer"] == "joblib"
    loaded = SklearnModel()
    loaded.load(tmp_path, save_metadata)
    np.testing.assert_allclose(loaded.model.predict([[3.0]]), [6.0])
