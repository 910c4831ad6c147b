"""ONNX conversion of scikit-learn models, the stored schema, and OnnxSession."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import onnx
import pandas as pd
import pytest
from skl2onnx import to_onnx
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor, StackingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC
from xgboost import XGBRegressor

from opsml.card import CardRegistry, ModelCard, RegistryType
from opsml.errors import (
    InvalidArgumentError,
    MissingDependencyError,
    SerializationError,
)
from opsml.interfaces import resolve_interface
from opsml.interfaces._onnx import load_onnx_session, write_onnx_model
from opsml.model import (
    Feature,
    FeatureSchema,
    ModelInterface,
    ModelInterfaceMetadata,
    ModelInterfaceSaveMetadata,
    ModelLoadKwargs,
    ModelSaveKwargs,
    ModelType,
    OnnxSchema,
    OnnxSession,
    SklearnModel,
)

ATOL = 1e-4


@pytest.fixture
def frame() -> Any:
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.standard_normal((120, 4)), columns=["a", "b", "c", "d"])


@pytest.fixture
def mixed_frame() -> Any:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "age": rng.uniform(18, 80, 150),
            "visits": rng.integers(0, 10, 150),
            "city": rng.choice(["paris", "lyon", "nice"], 150),
        }
    )


def _round_trip(
    interface: ModelInterface, path: Path, load_kwargs: ModelLoadKwargs | None = None
) -> tuple[Any, ModelInterfaceMetadata]:
    """Save with ONNX, store the metadata as JSON, rebuild the interface and load it."""
    save_metadata = interface.save(path, ModelSaveKwargs(save_onnx=True))
    stored = interface.get_interface_metadata(save_metadata).model_dump_json()
    metadata = ModelInterfaceMetadata.model_validate_json(stored)
    loaded = resolve_interface(metadata)
    loaded.load(path, metadata.save_metadata, load_kwargs or ModelLoadKwargs(load_onnx=True))
    return loaded, metadata


def test_classifier_onnx_matches_predict_proba(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((100, 5))
    y = (x[:, 0] - x[:, 2] > 0).astype(int)
    model = LogisticRegression().fit(x, y)

    loaded, metadata = _round_trip(SklearnModel(model=model, sample_data=x), tmp_path)

    session = loaded.onnx_session
    labels, probabilities = session.run({"X": x.astype(np.float32)})
    np.testing.assert_allclose(probabilities, model.predict_proba(x), atol=ATOL)
    np.testing.assert_array_equal(labels, model.predict(x))
    assert metadata.save_metadata.onnx_model_uri == Path("onnx-model.onnx")
    assert (tmp_path / "onnx-model.onnx").is_file()
    schema = metadata.onnx_schema
    assert schema is not None
    assert [(io.name, io.type, io.shape) for io in schema.inputs] == [
        ("X", "tensor(float)", [None, 5])
    ]
    assert [(io.name, io.type) for io in schema.outputs] == [
        ("label", "tensor(int64)"),
        ("probabilities", "tensor(float)"),
    ]
    assert schema.onnx_version == onnx.__version__


def test_regressor_on_a_frame_has_one_input(frame: Any, tmp_path: Path) -> None:
    target = frame["a"] * 2 - frame["c"]
    model = RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0).fit(frame, target)

    loaded, metadata = _round_trip(SklearnModel(model=model, sample_data=frame), tmp_path)

    session = loaded.onnx_session
    assert session.input_names == ["X"]
    (prediction,) = session.run(session.to_input_feed(frame))
    np.testing.assert_allclose(prediction.ravel(), model.predict(frame), atol=ATOL)
    assert metadata.onnx_schema is not None
    assert metadata.onnx_schema.input_features["X"].shape == [-1, 4]


def test_pipeline_on_a_mixed_frame_has_one_input_per_column(
    mixed_frame: Any, tmp_path: Path
) -> None:
    target = ((mixed_frame["age"] > 40) & (mixed_frame["city"] != "nice")).astype(int)
    pipeline = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [
                        ("numbers", StandardScaler(), ["age", "visits"]),
                        ("city", OneHotEncoder(), ["city"]),
                    ]
                ),
            ),
            ("classifier", RandomForestClassifier(n_estimators=5, random_state=0)),
        ]
    ).fit(mixed_frame, target)

    loaded, metadata = _round_trip(SklearnModel(model=pipeline, sample_data=mixed_frame), tmp_path)

    assert metadata.onnx_schema is not None
    assert [(io.name, io.type) for io in metadata.onnx_schema.inputs] == [
        ("age", "tensor(float)"),
        ("visits", "tensor(int64)"),
        ("city", "tensor(string)"),
    ]
    session = loaded.onnx_session
    labels, probabilities = session.run(session.to_input_feed(mixed_frame))
    np.testing.assert_allclose(probabilities, pipeline.predict_proba(mixed_frame), atol=ATOL)
    np.testing.assert_array_equal(labels, pipeline.predict(mixed_frame))


def test_scaler_pipeline_on_numpy(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((80, 3)) * 10
    pipeline = Pipeline([("scale", StandardScaler()), ("linear", LinearRegression())])
    pipeline.fit(x, x @ np.array([0.5, -1.0, 0.2]))

    loaded, _ = _round_trip(SklearnModel(model=pipeline, sample_data=x[:10]), tmp_path)

    (prediction,) = loaded.onnx_session.run({"X": x.astype(np.float32)})
    np.testing.assert_allclose(prediction.ravel(), pipeline.predict(x), atol=ATOL)


def test_onnx_session_is_set_right_after_save(frame: Any, tmp_path: Path) -> None:
    model = LinearRegression().fit(frame, frame["a"])
    interface = SklearnModel(model=model, sample_data=frame)
    assert interface.onnx_session is None

    interface.save(tmp_path, ModelSaveKwargs(save_onnx=True))

    session = interface.onnx_session
    assert isinstance(session, OnnxSession)
    assert session.model_bytes == (tmp_path / "onnx-model.onnx").read_bytes()
    (prediction,) = session.run(session.to_input_feed(frame))
    np.testing.assert_allclose(prediction.ravel(), model.predict(frame), atol=ATOL)


def test_without_load_onnx_no_session_is_built(frame: Any, tmp_path: Path) -> None:
    model = LinearRegression().fit(frame, frame["a"])
    loaded, metadata = _round_trip(
        SklearnModel(model=model, sample_data=frame), tmp_path, ModelLoadKwargs()
    )
    assert loaded.onnx_session is None
    assert loaded.onnx_schema == metadata.onnx_schema  # known from the card alone


def test_onnx_load_kwargs_reach_the_session(frame: Any, tmp_path: Path) -> None:
    model = LinearRegression().fit(frame, frame["a"])
    interface = SklearnModel(model=model, sample_data=frame)
    save_metadata = interface.save(tmp_path, ModelSaveKwargs(save_onnx=True))

    loaded = SklearnModel()
    loaded.load(
        tmp_path,
        save_metadata,
        ModelLoadKwargs(onnx={"sess_options": {"intra_op_num_threads": 1}}),
    )
    assert loaded.onnx_session is not None
    options = loaded.onnx_session.session.get_session_options()
    assert options.intra_op_num_threads == 1

    with pytest.raises(InvalidArgumentError, match="unknown onnxruntime session option"):
        SklearnModel().load(
            tmp_path, save_metadata, ModelLoadKwargs(onnx={"sess_options": {"threads": 1}})
        )
    with pytest.raises(InvalidArgumentError, match="unknown onnxruntime session argument"):
        SklearnModel().load(tmp_path, save_metadata, ModelLoadKwargs(onnx={"provider": "x"}))


def test_onnx_converter_kwargs_are_used(frame: Any, tmp_path: Path) -> None:
    model = LinearRegression().fit(frame, frame["a"])
    interface = SklearnModel(model=model, sample_data=frame)
    interface.save(tmp_path, ModelSaveKwargs(onnx={"target_opset": 15}))

    proto = onnx.load(str(tmp_path / "onnx-model.onnx"))
    assert {entry.domain: entry.version for entry in proto.opset_import}[""] <= 15


def test_save_onnx_without_sample_data_fails_before_writing(frame: Any, tmp_path: Path) -> None:
    interface = SklearnModel(model=LinearRegression().fit(frame, frame["a"]))
    with pytest.raises(SerializationError, match="needs sample_data to convert"):
        interface.save(tmp_path, ModelSaveKwargs(save_onnx=True))
    assert list(tmp_path.iterdir()) == []


def test_unconvertible_model_is_a_serialization_error(frame: Any, tmp_path: Path) -> None:
    model = LinearRegression().fit(frame, frame["a"])
    interface = SklearnModel(model=model, sample_data=frame.assign(a=frame["a"].astype(str)))
    with pytest.raises(SerializationError, match="non-numeric columns"):
        interface.save(tmp_path, ModelSaveKwargs(save_onnx=True))


def test_interface_without_conversion_says_so(tmp_path: Path) -> None:
    class Pickled(ModelInterface):
        def _save_model(self, model: Any, path: Path, kwargs: dict[str, Any]) -> str:
            (path / "model.txt").write_text(str(model))
            return "model.txt"

    interface = Pickled(model=1.5, sample_data=np.zeros((2, 2)))
    with pytest.raises(SerializationError, match="Pickled cannot convert to ONNX"):
        interface.save(tmp_path, ModelSaveKwargs(save_onnx=True))


def test_load_onnx_when_none_was_saved(frame: Any, tmp_path: Path) -> None:
    interface = SklearnModel(model=LinearRegression().fit(frame, frame["a"]), sample_data=frame)
    save_metadata = interface.save(tmp_path)
    assert interface.get_interface_metadata(save_metadata).onnx_schema is None
    with pytest.raises(SerializationError, match="saved without ONNX"):
        SklearnModel().load(tmp_path, save_metadata, ModelLoadKwargs(load_onnx=True))


def test_registered_pipeline_shows_its_schema_before_loading(
    both_modes_registry_env: Path, mixed_frame: Any
) -> None:
    target = (mixed_frame["age"] > 40).astype(int)
    pipeline = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [("age", StandardScaler(), ["age"]), ("city", OneHotEncoder(), ["city"])]
                ),
            ),
            ("classifier", LogisticRegression()),
        ]
    ).fit(mixed_frame, target)
    registry = CardRegistry(RegistryType.Model)
    card = ModelCard(
        interface=SklearnModel(model=pipeline, sample_data=mixed_frame[["age", "city"]]),
        space="team-a",
        name="churn",
    )
    registry.register_card(card, save_kwargs=ModelSaveKwargs(save_onnx=True))
    assert card.onnx_session is not None  # usable right after registration

    loaded = registry.load_card(uid=card.uid)
    interface_metadata = loaded.metadata.interface_metadata
    assert interface_metadata is not None
    schema = interface_metadata.onnx_schema
    assert isinstance(schema, OnnxSchema)
    assert [io.name for io in schema.inputs] == ["age", "city"]
    assert loaded.onnx_session is None  # nothing loaded yet

    loaded.load(load_kwargs=ModelLoadKwargs(load_onnx=True))
    session = loaded.onnx_session
    _, probabilities = session.run(session.to_input_feed(mixed_frame))
    np.testing.assert_allclose(probabilities, pipeline.predict_proba(mixed_frame), atol=ATOL)


# --- OnnxSession and the module functions ------------------------------------------------


@pytest.fixture
def zipmap_proto() -> Any:
    """A classifier converted with ZipMap: its probabilities are a sequence of maps."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((40, 3)).astype(np.float32)
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    return to_onnx(model, x[:1])


def test_written_schema_matches_onnxruntime(zipmap_proto: Any, tmp_path: Path) -> None:
    uri, schema = write_onnx_model(zipmap_proto, tmp_path)

    assert uri == "onnx-model.onnx"
    session = load_onnx_session(tmp_path / uri, {})
    assert session.schema == schema  # the graph's description equals onnxruntime's
    assert [(io.name, io.type, io.shape) for io in schema.outputs] == [
        ("output_label", "tensor(int64)", [None]),
        ("output_probability", "seq(map(int64,tensor(float)))", []),
    ]


def test_run_selects_outputs_and_takes_run_options(zipmap_proto: Any) -> None:
    session = OnnxSession(zipmap_proto)
    x = np.ones((3, 3), dtype=np.float32)

    (labels,) = session.run({"X": x}, output_names=["output_label"])
    assert labels.shape == (3,)
    outputs = session.run({"X": x.tolist()}, run_options={"log_severity_level": 3})
    assert [len(value) for value in outputs] == [3, 3]
    with pytest.raises(InvalidArgumentError, match="unknown onnxruntime run option"):
        session.run({"X": x}, run_options={"severity": 3})


@pytest.mark.parametrize(
    ("feed", "message"),
    [
        ({"Y": np.ones((1, 3), dtype=np.float32)}, "missing"),
        ({"X": np.ones((1, 3))}, "tensor\\(double\\)"),
        ({"X": np.ones((1, 2), dtype=np.float32)}, "dimensions"),
    ],
    ids=["wrong-name", "wrong-dtype", "wrong-shape"],
)
def test_bad_input_is_an_invalid_argument(zipmap_proto: Any, feed: Any, message: str) -> None:
    session = OnnxSession(zipmap_proto)
    with pytest.raises(InvalidArgumentError, match=message) as info:
        session.run(feed)
    assert "X: tensor(float) [None, 3]" in str(info.value)


def test_session_from_path_bytes_and_proto_agree(zipmap_proto: Any, tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(zipmap_proto.SerializeToString())

    from_path = OnnxSession(path)
    assert from_path.path == path
    assert from_path.model_bytes == path.read_bytes()
    assert OnnxSession(path.read_bytes()).schema == from_path.schema
    assert OnnxSession(zipmap_proto).schema == from_path.schema
    assert from_path.output_names == ["output_label", "output_probability"]
    with pytest.raises(InvalidArgumentError, match="expects a path, bytes or an onnx"):
        OnnxSession(12)  # type: ignore[arg-type]


def test_corrupt_model_file_is_a_serialization_error(tmp_path: Path) -> None:
    path = tmp_path / "onnx-model.onnx"
    path.write_bytes(b"not a model")
    with pytest.raises(SerializationError, match="onnxruntime could not load"):
        load_onnx_session(path, {})
    with pytest.raises(SerializationError, match="could not read"):
        load_onnx_session(tmp_path / "missing.onnx", {})


def test_to_input_feed_names_the_missing_column(mixed_frame: Any, tmp_path: Path) -> None:
    target = (mixed_frame["age"] > 40).astype(int)
    pipeline = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [("age", StandardScaler(), ["age"]), ("city", OneHotEncoder(), ["city"])]
                ),
            ),
            ("classifier", LogisticRegression()),
        ]
    ).fit(mixed_frame, target)
    interface = SklearnModel(model=pipeline, sample_data=mixed_frame[["age", "city"]])
    interface.save(tmp_path, ModelSaveKwargs(save_onnx=True))
    session = interface.onnx_session
    assert session is not None
    with pytest.raises(InvalidArgumentError, match="input 'city'"):
        session.to_input_feed(mixed_frame[["age", "visits"]])


@pytest.mark.parametrize("module", ["onnxruntime", "skl2onnx"])
def test_missing_onnx_library_names_the_extra(
    frame: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    interface = SklearnModel(model=LinearRegression().fit(frame, frame["a"]), sample_data=frame)
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingDependencyError, match=r"opsml\[onnx\]"):
        interface.save(tmp_path, ModelSaveKwargs(save_onnx=True))


def test_a_session_detaches_and_round_trips_its_schema_as_json(frame: Any, tmp_path: Path) -> None:
    model = LinearRegression().fit(frame, frame["a"] * 2)
    interface = SklearnModel(model=model, sample_data=frame)
    metadata = interface.save(tmp_path, ModelSaveKwargs(save_onnx=True))
    session = interface.onnx_session
    assert session is not None

    # OpsML 3's attributes: the metadata's onnx_session, JSON of a session, detaching it.
    assert metadata.onnx_session is not None
    assert metadata.onnx_session.schema == session.schema
    stored = ModelInterfaceMetadata.model_validate_json(metadata.model_dump_json())
    assert stored.onnx_session is not None
    assert stored.onnx_session.schema == session.schema
    copy = OnnxSession.model_validate_json(session.model_dump_json())
    assert copy.session is None
    assert copy.schema == session.schema
    session.session = None
    assert session.schema == copy.schema
    with pytest.raises(SerializationError, match="no onnxruntime session"):
        session.run({"X": frame.to_numpy(np.float32)})

    interface.load(tmp_path, metadata.save_metadata, ModelLoadKwargs(load_onnx=True))
    assert interface.onnx_session is not None
    assert interface.onnx_session.session is not None
    with pytest.raises(InvalidArgumentError, match="not the JSON of an OnnxSession"):
        OnnxSession.model_validate_json('{"model": 1}')


def test_metadata_takes_an_onnx_session_and_schemas_take_feature_schemas() -> None:
    inputs = FeatureSchema({"x": Feature("tensor(float)", [-1, 3], {"unit": "m"})})
    outputs = FeatureSchema({"y": Feature("tensor(float)", [-1, 1])})
    schema = OnnxSchema(inputs, outputs, "1.17")  # OpsML 3's positional form

    metadata = ModelInterfaceMetadata(
        save_metadata=ModelInterfaceSaveMetadata(model_uri="model.onnx"),
        onnx_session=OnnxSession.detached(schema),
    )

    assert schema.input_features == inputs
    assert schema.output_features == outputs
    assert [(io.name, io.shape) for io in schema.inputs] == [("x", [None, 3])]
    assert metadata.onnx_schema == schema
    assert ModelInterfaceMetadata.model_validate_json(metadata.model_dump_json()) == metadata


def test_classifiers_without_probabilities_convert(frame: Any, tmp_path: Path) -> None:
    labels = (frame["a"] > 0).astype(int)
    model = LinearSVC().fit(frame, labels)  # no predict_proba, so no ZipMap option
    interface = SklearnModel(model=model, sample_data=frame)

    interface.save(tmp_path, ModelSaveKwargs(save_onnx=True))

    assert interface.onnx_session is not None
    label, _scores = interface.onnx_session.run({"X": frame.to_numpy(np.float32)})
    np.testing.assert_array_equal(label, model.predict(frame))


def test_stacking_with_boosted_members_converts(frame: Any, tmp_path: Path) -> None:
    target = frame["a"] * 2 + frame["b"]
    model = StackingRegressor(
        estimators=[
            ("xgb", XGBRegressor(n_estimators=3, max_depth=2)),
            ("lgb", lightgbm.LGBMRegressor(n_estimators=3, num_leaves=4, verbose=-1)),
        ],
        final_estimator=LinearRegression(),
        cv=2,
    ).fit(frame, target)
    interface = SklearnModel(model=model, sample_data=frame)

    interface.save(tmp_path, ModelSaveKwargs(save_onnx=True))

    assert interface.model_type is ModelType.StackingRegressor
    (prediction,) = interface.onnx_session.run({"X": frame.to_numpy(np.float32)})  # type: ignore[union-attr]
    np.testing.assert_allclose(prediction.ravel(), model.predict(frame), atol=ATOL)
