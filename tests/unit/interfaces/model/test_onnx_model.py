"""OnnxModel: an existing ONNX model is stored as ``onnx-model.onnx`` and runs after load."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression

from opsml.card import CardRegistry, ModelCard, RegistryType
from opsml.errors import (
    CardStateError,
    InvalidArgumentError,
    MissingDependencyError,
    SerializationError,
)
from opsml.interfaces import resolve_interface
from opsml.model import (
    ModelInterfaceMetadata,
    ModelLoadKwargs,
    ModelSaveKwargs,
    ModelType,
    OnnxModel,
    OnnxSession,
    TaskType,
)

ATOL = 1e-4


@pytest.fixture
def x() -> Any:
    return np.random.default_rng(0).standard_normal((60, 4)).astype(np.float32)


@pytest.fixture
def classifier(x: Any) -> Any:
    return LogisticRegression().fit(x, (x[:, 0] + x[:, 1] > 0).astype(int))


@pytest.fixture
def proto(classifier: Any, x: Any) -> Any:
    return to_onnx(classifier, x[:1], options={"zipmap": False})


def _round_trip(
    interface: OnnxModel,
    path: Path,
    save_kwargs: ModelSaveKwargs | None = None,
    load_kwargs: ModelLoadKwargs | None = None,
) -> tuple[Any, ModelInterfaceMetadata]:
    save_metadata = interface.save(path, save_kwargs)
    stored = interface.get_interface_metadata(save_metadata).model_dump_json()
    metadata = ModelInterfaceMetadata.model_validate_json(stored)
    loaded = resolve_interface(metadata)
    assert isinstance(loaded, OnnxModel)
    loaded.load(path, metadata.save_metadata, load_kwargs)
    return loaded, metadata


def test_session_is_ready_at_construction(proto: Any, classifier: Any, x: Any) -> None:
    interface = OnnxModel(model=proto, sample_data=x[:5])

    assert interface.session is interface.onnx_session
    _, probabilities = interface.session.run({"X": x})
    np.testing.assert_allclose(probabilities, classifier.predict_proba(x), atol=ATOL)
    assert interface.model_type is ModelType.Onnx
    assert interface.task_type is TaskType.Undefined


def test_round_trip_runs_without_load_onnx(
    proto: Any, classifier: Any, x: Any, tmp_path: Path
) -> None:
    interface = OnnxModel(model=proto, sample_data=x[:5], task_type="Classification")

    loaded, metadata = _round_trip(interface, tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["onnx-model.onnx", "sample-data.npy"]
    assert metadata.save_metadata.model_uri == Path("onnx-model.onnx")
    assert metadata.save_metadata.onnx_model_uri == Path("onnx-model.onnx")
    assert metadata.onnx_schema is not None
    assert [io.name for io in metadata.onnx_schema.outputs] == ["label", "probabilities"]
    assert metadata.task_type is TaskType.Classification
    assert metadata.model_specific_metadata["producer_name"] == "skl2onnx"
    assert loaded.model == proto
    np.testing.assert_array_equal(loaded.sample_data.data, x[:1])
    _, probabilities = loaded.session.run({"X": x})
    np.testing.assert_allclose(probabilities, classifier.predict_proba(x), atol=ATOL)


def test_save_onnx_writes_one_file(proto: Any, tmp_path: Path) -> None:
    OnnxModel(model=proto).save(tmp_path, ModelSaveKwargs(save_onnx=True))
    assert [p.name for p in tmp_path.iterdir()] == ["onnx-model.onnx"]


def test_model_from_a_path(proto: Any, x: Any, tmp_path: Path) -> None:
    file = tmp_path / "given.onnx"
    file.write_bytes(proto.SerializeToString())

    interface = OnnxModel(model=file)

    assert interface.model == proto
    assert interface.session.input_names == ["X"]
    interface.model = str(file)
    assert interface.model == proto
    with pytest.raises(SerializationError, match="could not read"):
        OnnxModel(model=tmp_path / "missing.onnx")


def test_onnx_load_kwargs_reach_the_session(proto: Any, tmp_path: Path) -> None:
    save_metadata = OnnxModel(model=proto).save(tmp_path)
    loaded = OnnxModel()
    loaded.load(
        tmp_path,
        save_metadata,
        ModelLoadKwargs(onnx={"sess_options": {"inter_op_num_threads": 1}}),
    )
    options = loaded.session.session.get_session_options()
    assert options.inter_op_num_threads == 1
    assert isinstance(loaded.onnx_session, OnnxSession)


def test_model_save_kwargs_are_refused(proto: Any, tmp_path: Path) -> None:
    with pytest.raises(SerializationError, match="takes no model save kwargs"):
        OnnxModel(model=proto).save(tmp_path, ModelSaveKwargs(model={"x": 1}))


def test_no_session_before_a_model() -> None:
    with pytest.raises(CardStateError, match="no ONNX session"):
        _ = OnnxModel().session


@pytest.mark.parametrize("wrong", [b"bytes", 3, np.zeros(2)], ids=["bytes", "int", "ndarray"])
def test_wrong_model_is_rejected_at_construction(wrong: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"expects an onnx\.ModelProto"):
        OnnxModel(model=wrong)


def test_missing_onnx_names_the_extra(monkeypatch: pytest.MonkeyPatch, proto: Any) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(MissingDependencyError, match=r"opsml\[onnx\]"):
        OnnxModel(model=proto)


def test_registry_round_trip(
    both_modes_registry_env: Path, proto: Any, classifier: Any, x: Any, tmp_path: Path
) -> None:
    registry = CardRegistry(RegistryType.Model)
    card = ModelCard(interface=OnnxModel(model=proto, sample_data=x[:5]), space="a", name="m")
    registry.register_card(card)

    loaded = registry.load_card(uid=card.uid)
    assert loaded.metadata.interface_metadata.onnx_schema.inputs[0].shape == [None, 4]
    loaded.load()

    _, probabilities = loaded.onnx_session.run({"X": x})
    np.testing.assert_allclose(probabilities, classifier.predict_proba(x), atol=ATOL)
    folder = loaded.download_artifacts(tmp_path / "download")
    from_path = ModelCard.load_from_path(folder)
    assert from_path.onnx_session is not None
    assert from_path.model == proto
