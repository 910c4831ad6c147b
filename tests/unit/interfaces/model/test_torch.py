"""TorchModel: state_dict round trips give identical outputs; loading is weights-only."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from opsml.card import CardRegistry, ModelCard, RegistryType
from opsml.data import NumpyData, TorchData
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
    ModelLoadKwargs,
    ModelSaveKwargs,
    ModelType,
    TaskType,
    TorchModel,
)


class Net(torch.nn.Module):
    """Two inputs, the second optional; dropout and batch norm make the mode matter."""

    def __init__(self, n_features: int = 4) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(n_features, 2)
        self.norm = torch.nn.BatchNorm1d(2)
        self.dropout = torch.nn.Dropout(0.5)

    def forward(self, x: Any, bias: Any = None) -> Any:
        out = self.dropout(self.norm(self.linear(x)))
        return out if bias is None else out + bias


@dataclass
class Calibration:
    """A non-tensor object in a state_dict: only ``weights_only=False`` can read it."""

    scale: float


class CalibratedNet(Net):
    def __init__(self) -> None:
        super().__init__()
        self.calibration = Calibration(scale=1.0)

    def get_extra_state(self) -> Calibration:
        return self.calibration

    def set_extra_state(self, state: Calibration) -> None:
        self.calibration = state


@pytest.fixture
def model() -> Net:
    torch.manual_seed(0)
    return Net().eval()


@pytest.fixture
def x() -> Any:
    return torch.randn(6, 4, generator=torch.Generator().manual_seed(1))


def _round_trip(
    interface: TorchModel,
    path: Path,
    load_kwargs: ModelLoadKwargs | None = None,
    save_kwargs: ModelSaveKwargs | None = None,
) -> tuple[TorchModel, ModelInterfaceMetadata]:
    """Save, store the metadata as JSON, rebuild the interface from it and load."""
    save_metadata = interface.save(path, save_kwargs)
    stored = interface.get_interface_metadata(save_metadata).model_dump_json()
    metadata = ModelInterfaceMetadata.model_validate_json(stored)
    loaded = resolve_interface(metadata)
    assert isinstance(loaded, TorchModel)
    loaded.load(
        path, metadata.save_metadata, load_kwargs or ModelLoadKwargs(model={"model": Net()})
    )
    return loaded, metadata


def test_round_trip_gives_identical_outputs(model: Net, x: Any, tmp_path: Path) -> None:
    interface = TorchModel(model=model, sample_data=x[:3], task_type="regression")

    loaded, metadata = _round_trip(interface, tmp_path)

    assert not loaded.model.training
    assert torch.equal(loaded.model(x), model(x))
    # As in OpsML 3: the first row, handed out as its data interface.
    assert isinstance(loaded.sample_data, TorchData)
    assert torch.equal(loaded.sample_data.data, x[:1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt", "sample-data.pt"]
    assert set(torch.load(tmp_path / "model.pt", weights_only=True)) == set(model.state_dict())
    assert metadata.save_metadata.model_uri == Path("model.pt")
    assert metadata.save_metadata.extra is not None
    assert metadata.save_metadata.extra["sample_data_interface_type"] == "TorchData"
    assert metadata.model_type is ModelType.Pytorch
    assert metadata.data_type is DataType.TorchTensor
    assert metadata.task_type is TaskType.Regression
    assert metadata.interface_type == "TorchModel"
    assert metadata.schema["torch_tensor"].shape == [1, 4]
    assert metadata.schema["torch_tensor"].feature_type == "torch.float32"
    specific = metadata.model_specific_metadata
    assert specific["model_class"] == f"{Net.__module__}.Net"
    assert specific["torch_version"] == torch.__version__


@pytest.mark.parametrize(
    ("make_sample", "data_type"),
    [
        (lambda x: {"x": x[:2], "bias": torch.ones(2, 2)}, DataType.Dict),
        (lambda x: [x[:2], torch.ones(2, 2)], DataType.List),
        (lambda x: (x[:2], torch.ones(2, 2)), DataType.Tuple),
        (lambda x: x[:2].numpy(), DataType.Numpy),
    ],
    ids=["dict", "list", "tuple", "numpy"],
)
def test_sample_data_shapes_round_trip(
    make_sample: Any, data_type: DataType, model: Net, x: Any, tmp_path: Path
) -> None:
    sample = make_sample(x)
    interface = TorchModel(model=model, sample_data=sample)

    loaded, metadata = _round_trip(interface, tmp_path)

    assert metadata.data_type is data_type
    # Containers come back as themselves, each value cut to its first row (as in OpsML 3).
    if isinstance(sample, dict):
        assert type(loaded.sample_data) is dict
        assert list(loaded.sample_data) == ["x", "bias"]
        assert all(torch.equal(loaded.sample_data[k], v[:1]) for k, v in sample.items())
        assert list(metadata.schema) == ["x", "bias"]
    elif isinstance(sample, list | tuple):
        assert type(loaded.sample_data) is type(sample)
        pairs = zip(loaded.sample_data, sample, strict=True)
        assert all(torch.equal(a, b[:1]) for a, b in pairs)
        assert list(metadata.schema) == ["input_0", "input_1"]
    else:
        assert isinstance(loaded.sample_data, NumpyData)
        np.testing.assert_array_equal(loaded.sample_data.data, sample[:1])


def test_sample_data_may_be_given_as_torch_data(model: Net, x: Any, tmp_path: Path) -> None:
    given = TorchData(data=x[:2])
    interface = TorchModel(model=model, sample_data=given)

    loaded, metadata = _round_trip(interface, tmp_path)

    assert interface.sample_data is given
    assert torch.equal(loaded.sample_data.data, x[:1])
    assert metadata.data_type is DataType.TorchTensor
    with pytest.raises(InvalidArgumentError, match="holding data"):
        TorchModel(model=model, sample_data=TorchData())


def test_loading_needs_the_architecture_and_names_the_class(
    model: Net, x: Any, tmp_path: Path
) -> None:
    save_metadata = TorchModel(model=model).save(tmp_path)

    with pytest.raises(SerializationError, match=rf"state_dict\) of {Net.__module__}\.Net"):
        TorchModel().load(tmp_path, save_metadata)

    into = TorchModel(model=Net())  # the interface's own model is the architecture
    into.load(tmp_path, save_metadata)
    assert torch.equal(into.model(x), model(x))


def test_weights_that_do_not_fit_the_architecture_are_a_clear_error(
    model: Net, tmp_path: Path
) -> None:
    save_metadata = TorchModel(model=model).save(tmp_path)
    with pytest.raises(SerializationError, match="do not fit"):
        TorchModel().load(tmp_path, save_metadata, ModelLoadKwargs(model={"model": Net(3)}))
    with pytest.raises(InvalidArgumentError, match="instance of your"):
        TorchModel().load(tmp_path, save_metadata, ModelLoadKwargs(model={"model": Net}))


def test_state_dict_is_read_weights_only_unless_the_user_opts_in(x: Any, tmp_path: Path) -> None:
    model = CalibratedNet().eval()
    model.calibration = Calibration(scale=2.5)
    save_metadata = TorchModel(model=model).save(tmp_path)

    with pytest.raises(SerializationError, match=r"could not read .*model\.pt"):
        TorchModel().load(
            tmp_path, save_metadata, ModelLoadKwargs(model={"model": CalibratedNet()})
        )

    trusted = ModelLoadKwargs(model={"model": CalibratedNet(), "weights_only": False})
    loaded = TorchModel()
    loaded.load(tmp_path, save_metadata, trusted)
    assert loaded.model.calibration == Calibration(scale=2.5)
    assert torch.equal(loaded.model(x), model(x))


@pytest.mark.parametrize(
    "sample",
    ["tensor", "dict", "tuple"],
)
def test_onnx_export_matches_the_model(sample: str, model: Net, x: Any, tmp_path: Path) -> None:
    bias = torch.full((6, 2), 0.5)
    samples = {"tensor": x, "dict": {"x": x, "bias": bias}, "tuple": (x, bias)}
    feeds = {
        "tensor": {"input": x.numpy()},
        "dict": {"x": x.numpy(), "bias": bias.numpy()},
        "tuple": {"input_0": x.numpy(), "input_1": bias.numpy()},
    }
    expected = model(x) if sample == "tensor" else model(x, bias)
    model.train()  # conversion runs in eval mode (batch-norm statistics stay) and restores it
    interface = TorchModel(model=model, sample_data=samples[sample])

    loaded, metadata = _round_trip(
        interface,
        tmp_path,
        load_kwargs=ModelLoadKwargs(model={"model": Net()}, load_onnx=True),
        save_kwargs=ModelSaveKwargs(save_onnx=True),
    )

    assert model.training
    assert (tmp_path / "onnx-model.onnx").is_file()
    assert metadata.onnx_schema is not None
    assert [io.name for io in metadata.onnx_schema.inputs] == list(feeds[sample])
    assert [io.name for io in metadata.onnx_schema.outputs] == ["output"]
    assert metadata.onnx_schema.inputs[0].shape == ["batch", 4]
    assert loaded.onnx_session is not None
    (onnx_out,) = loaded.onnx_session.run(feeds[sample])
    np.testing.assert_allclose(onnx_out, expected.detach().numpy(), atol=1e-4)
    (first_row,) = loaded.onnx_session.run({k: v[:1] for k, v in feeds[sample].items()})
    np.testing.assert_allclose(first_row, expected[:1].detach().numpy(), atol=1e-4)


def test_onnx_needs_tensor_sample_data(model: Net, tmp_path: Path) -> None:
    interface = TorchModel(model=model, sample_data="not a tensor")
    with pytest.raises(SerializationError, match="needs tensor sample data"):
        interface.save(tmp_path, ModelSaveKwargs(save_onnx=True))
    assert not (tmp_path / "model.pt").exists()


def test_registered_model_loads_back_with_onnx(
    both_modes_registry_env: Path, model: Net, x: Any
) -> None:
    registry = CardRegistry(RegistryType.Model)
    card = ModelCard(
        interface=TorchModel(model=model, sample_data=x[:2]), space="team-a", name="net"
    )
    registry.register_card(card, save_kwargs=ModelSaveKwargs(save_onnx=True))

    loaded = registry.load_card(uid=card.uid, interface=TorchModel(model=Net()))
    loaded.load(load_kwargs=ModelLoadKwargs(load_onnx=True))

    assert torch.equal(loaded.model(x), model(x))
    assert torch.equal(loaded.interface.sample_data.data, x[:1])
    (onnx_out,) = loaded.onnx_session.run({"input": x.numpy()})
    np.testing.assert_allclose(onnx_out, model(x).detach().numpy(), atol=1e-4)


@pytest.mark.parametrize(
    "wrong",
    ["not a model", object(), np.zeros(3)],
    ids=["str", "object", "ndarray"],
)
def test_non_module_is_rejected_at_construction(wrong: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"expects a torch\.nn\.Module"):
        TorchModel(model=wrong)


@pytest.mark.parametrize(
    "wrong",
    [[], {"x": [1.0]}, {1: torch.ones(1)}, 3.0],
    ids=["empty-list", "dict-of-lists", "int-keys", "float"],
)
def test_unsupported_sample_data_is_rejected_at_construction(wrong: object) -> None:
    with pytest.raises(UnsupportedTypeError, match="cannot take sample data"):
        TorchModel(model=Net(), sample_data=wrong)


def test_missing_torch_names_the_extra(
    model: Net, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_metadata = TorchModel(model=model).save(tmp_path)
    monkeypatch.setitem(sys.modules, "torch", None)

    with pytest.raises(MissingDependencyError) as at_construction:
        TorchModel(model=model)
    with pytest.raises(MissingDependencyError) as at_load:
        TorchModel().load(tmp_path, save_metadata)

    for info in (at_construction, at_load):
        assert info.value.extra == "torch"
        assert "opsml[torch]" in str(info.value)
