"""TensorFlowModel: Keras models saved as model.keras, their sample data, ONNX via tf2onnx."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

from opsml.card import CardRegistry, ModelCard, RegistryType
from opsml.data import DataType, NumpyData
from opsml.errors import SerializationError, UnsupportedTypeError
from opsml.interfaces import resolve_interface
from opsml.model import (
    ModelInterfaceMetadata,
    ModelLoadKwargs,
    ModelSaveKwargs,
    ModelType,
    TaskType,
    TensorFlowModel,
)

ATOL = 1e-5


def _functional() -> tf.keras.Model:
    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input(shape=(10,), name="features")
    hidden = tf.keras.layers.Dense(8, activation="relu")(inputs)
    return tf.keras.Model(inputs, tf.keras.layers.Dense(1, activation="sigmoid")(hidden))


def _sequential() -> tf.keras.Model:
    tf.keras.utils.set_random_seed(1)
    return tf.keras.Sequential(
        [tf.keras.Input(shape=(10,)), tf.keras.layers.Dense(4), tf.keras.layers.Dense(1)]
    )


def _two_inputs(as_dict: bool) -> tf.keras.Model:
    tf.keras.utils.set_random_seed(2)
    numeric = tf.keras.Input(shape=(10,), name="numeric")
    category = tf.keras.Input(shape=(5,), name="category")
    hidden = tf.keras.layers.Concatenate()(
        [tf.keras.layers.Dense(4)(numeric), tf.keras.layers.Dense(4)(category)]
    )
    output = tf.keras.layers.Dense(1)(hidden)
    inputs: Any = {"numeric": numeric, "category": category} if as_dict else [numeric, category]
    return tf.keras.Model(inputs=inputs, outputs=output)


@pytest.fixture
def x() -> np.ndarray:
    return np.random.default_rng(0).random((20, 10))


def _round_trip(
    interface: TensorFlowModel,
    path: Path,
    save_kwargs: ModelSaveKwargs | None = None,
    load_kwargs: ModelLoadKwargs | None = None,
) -> tuple[TensorFlowModel, ModelInterfaceMetadata]:
    """Save, keep the metadata as JSON, rebuild the interface from it and load."""
    stored = interface.save(path, save_kwargs).model_dump_json()
    metadata = ModelInterfaceMetadata.model_validate_json(stored)
    loaded = resolve_interface(metadata)
    assert isinstance(loaded, TensorFlowModel)
    assert loaded.model is None
    loaded.load(path, metadata.save_metadata, load_kwargs)
    return loaded, metadata


def test_round_trip_predicts_identically(x: np.ndarray, tmp_path: Path) -> None:
    model = _functional()
    interface = TensorFlowModel(model=model, sample_data=x, task_type="classification")

    loaded, metadata = _round_trip(interface, tmp_path)

    np.testing.assert_array_equal(loaded.model.predict(x, verbose=0), model.predict(x, verbose=0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras", "sample-data.npy"]
    assert metadata.model_type is ModelType.TensorFlow
    assert metadata.task_type is TaskType.Classification
    assert metadata.data_type is DataType.Numpy
    assert metadata.interface_type == "TensorFlowModel"
    assert metadata.schema["numpy_array"].shape == [1, 10]
    assert metadata.model_specific_metadata["tensorflow_version"] == tf.__version__
    assert isinstance(loaded.sample_data, NumpyData)
    np.testing.assert_array_equal(loaded.sample_data.data, x[:1])


@pytest.mark.parametrize("build", [_functional, _sequential], ids=["functional", "sequential"])
def test_onnx_from_the_sample_data_matches_the_model(
    build: Any, x: np.ndarray, tmp_path: Path
) -> None:
    model = build()
    interface = TensorFlowModel(model=model, sample_data=x)

    loaded, metadata = _round_trip(
        interface, tmp_path, ModelSaveKwargs(save_onnx=True), ModelLoadKwargs(load_onnx=True)
    )

    assert metadata.onnx_schema is not None
    (only_input,) = metadata.onnx_schema.inputs
    assert (only_input.type, only_input.shape[1]) == ("tensor(float)", 10)
    assert loaded.onnx_session is not None
    (prediction,) = loaded.onnx_session.run({only_input.name: x.astype(np.float32)})
    np.testing.assert_allclose(prediction, model.predict(x, verbose=0), atol=ATOL)


def test_input_signature_as_tensor_specs_or_json(x: np.ndarray, tmp_path: Path) -> None:
    model = _functional()
    specs = [tf.TensorSpec(shape=(None, 10), dtype=tf.float32, name="x")]
    as_json = [{"shape": [None, 10], "dtype": "float32", "name": "x"}]

    for folder, signature in ((tmp_path / "specs", specs), (tmp_path / "json", as_json)):
        interface = TensorFlowModel(model=model, sample_data=x)
        metadata = interface.save(folder, ModelSaveKwargs(onnx={"input_signature": signature}))

        assert interface.onnx_session is not None
        assert interface.onnx_session.input_names == ["x"]
        (prediction,) = interface.onnx_session.run({"x": x.astype(np.float32)})
        np.testing.assert_allclose(prediction, model.predict(x, verbose=0), atol=ATOL)
        # What the card stores: JSON, the TensorSpec as its repr.
        recorded = json.loads(metadata.model_dump_json())["save_metadata"]["save_kwargs"]
        assert recorded["save_onnx"] is True
        assert "10" in str(recorded["onnx"]["input_signature"][0])


@pytest.mark.parametrize("as_dict", [False, True], ids=["list", "dict"])
def test_several_inputs(as_dict: bool, tmp_path: Path) -> None:
    model = _two_inputs(as_dict)
    rng = np.random.default_rng(3)
    numeric, category = rng.random((6, 10)), rng.integers(0, 5, (6, 5)).astype(np.float64)
    sample: Any = {"numeric": numeric, "category": category} if as_dict else [numeric, category]
    interface = TensorFlowModel(model=model, sample_data=sample)

    loaded, metadata = _round_trip(
        interface, tmp_path, ModelSaveKwargs(save_onnx=True), ModelLoadKwargs(load_onnx=True)
    )

    assert metadata.data_type is (DataType.Dict if as_dict else DataType.List)
    assert type(loaded.sample_data) is type(sample)
    values = loaded.sample_data.values() if as_dict else loaded.sample_data
    assert [v.shape for v in values] == [(1, 10), (1, 5)]
    assert "sample-data.npz" in {p.name for p in tmp_path.iterdir()}
    assert metadata.onnx_schema is not None
    assert [io.name for io in metadata.onnx_schema.inputs] == ["numeric", "category"]
    feed = {"numeric": numeric.astype(np.float32), "category": category.astype(np.float32)}
    (prediction,) = loaded.onnx_session.run(feed)  # type: ignore[union-attr]
    expected = model(feed if as_dict else [feed["numeric"], feed["category"]]).numpy()
    np.testing.assert_allclose(prediction, expected, atol=ATOL)


def test_tensor_sample_data_comes_back_as_tensors(x: np.ndarray, tmp_path: Path) -> None:
    tensor = tf.constant(x, dtype=tf.float32)

    single, single_metadata = _round_trip(
        TensorFlowModel(model=_functional(), sample_data=tensor), tmp_path / "single"
    )
    mixed, mixed_metadata = _round_trip(
        TensorFlowModel(model=_two_inputs(False), sample_data=(tensor, np.ones((3, 5)))),
        tmp_path / "mixed",
    )

    assert single_metadata.data_type is DataType.TensorFlowTensor
    assert isinstance(single.sample_data, tf.Tensor)
    np.testing.assert_array_equal(single.sample_data.numpy(), x[:1].astype(np.float32))
    assert mixed_metadata.data_type is DataType.Tuple
    first, second = mixed.sample_data
    assert isinstance(first, tf.Tensor)
    assert isinstance(second, np.ndarray)
    assert (tuple(first.shape), second.shape) == ((1, 10), (1, 5))


def test_registered_model_loads_back(both_modes_registry_env: Path, x: np.ndarray) -> None:
    model = _functional()
    registry = CardRegistry(RegistryType.Model)
    card = ModelCard(
        interface=TensorFlowModel(model=model, sample_data=x), space="team-a", name="keras"
    )
    registry.register_card(card, save_kwargs=ModelSaveKwargs(save_onnx=True))

    loaded = registry.load_card(uid=card.uid)
    loaded.load(load_kwargs=ModelLoadKwargs(load_onnx=True))

    np.testing.assert_array_equal(loaded.model.predict(x, verbose=0), model.predict(x, verbose=0))
    (prediction,) = loaded.onnx_session.run({"features": x.astype(np.float32)})
    np.testing.assert_allclose(prediction, model.predict(x, verbose=0), atol=ATOL)


def test_wrong_objects_are_rejected_at_construction(x: np.ndarray) -> None:
    with pytest.raises(UnsupportedTypeError, match=r"expects a tensorflow\.keras\.Model"):
        TensorFlowModel(model="not a model")
    with pytest.raises(UnsupportedTypeError, match="cannot take sample data"):
        TensorFlowModel(model=_functional(), sample_data=[[1.0, 2.0]])


def test_onnx_needs_sample_data_and_load_onnx_needs_a_saved_onnx(tmp_path: Path) -> None:
    interface = TensorFlowModel(model=_functional())

    with pytest.raises(SerializationError, match="needs sample_data"):
        interface.save(tmp_path, ModelSaveKwargs(save_onnx=True))
    metadata = interface.save(tmp_path)
    with pytest.raises(SerializationError, match="saved without ONNX"):
        TensorFlowModel().load(tmp_path, metadata, ModelLoadKwargs(load_onnx=True))
