"""TorchData: .pt round trips keep dtype, shape and layout; loading never unpickles code."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from opsml.data import DataInterface, DataLoadKwargs, DataSaveKwargs, DataType, TorchData
from opsml.errors import (
    InvalidArgumentError,
    MissingDependencyError,
    SerializationError,
)

RoundTrip = Callable[..., DataInterface]


@pytest.mark.parametrize(
    "tensor",
    [
        torch.arange(12, dtype=torch.float32).reshape(3, 4),
        torch.tensor([[1, -2], [3, 4]], dtype=torch.int16),
        torch.tensor([True, False]),
        torch.tensor([1.5, -2.25], dtype=torch.bfloat16),
        torch.tensor([1 + 2j], dtype=torch.complex64),
        torch.arange(6.0).reshape(2, 3).t(),
        torch.tensor([0.0, 2.0, 0.0]).to_sparse(),
        torch.zeros((2, 0, 3)),
    ],
    ids=["float32-2d", "int16", "bool", "bfloat16", "complex", "transposed", "sparse", "empty"],
)
def test_round_trip_keeps_values_dtype_shape_and_layout(
    tensor: torch.Tensor, round_trip: RoundTrip
) -> None:
    loaded = round_trip(TorchData(data=tensor)).data

    assert loaded.dtype == tensor.dtype
    assert loaded.shape == tensor.shape
    assert loaded.layout == tensor.layout
    assert loaded.stride() == tensor.stride() or tensor.is_sparse
    assert torch.equal(loaded.to_dense(), tensor.to_dense())


def test_save_writes_data_pt_and_records_metadata(tmp_path: Path) -> None:
    interface = TorchData(data=torch.zeros(3, 4, dtype=torch.float64))

    save_metadata = interface.save(tmp_path, DataSaveKwargs({"pickle_protocol": 4}))
    metadata = interface.get_interface_metadata(save_metadata)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.pt"]
    assert metadata.interface_type == "TorchData"
    assert metadata.data_type is DataType.TorchTensor
    assert metadata.extra_metadata["torch_version"] == torch.__version__
    assert metadata.schema["torch_tensor"].feature_type == "torch.float64"
    assert metadata.schema["torch_tensor"].shape == [3, 4]


def test_load_kwargs_reach_torch_load(round_trip: RoundTrip) -> None:
    tensor = torch.arange(4.0)

    loaded = round_trip(TorchData(data=tensor), DataLoadKwargs({"mmap": True}))

    assert torch.equal(loaded.data, tensor)


@pytest.mark.parametrize("key", ["weights_only", "pickle_module"])
def test_unsafe_load_kwargs_are_refused(key: str, tmp_path: Path) -> None:
    save_metadata = TorchData(data=torch.zeros(2)).save(tmp_path)

    with pytest.raises(InvalidArgumentError, match="always loads with weights_only=True"):
        TorchData().load(tmp_path, save_metadata, DataLoadKwargs({key: False}))


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("this must never run",))


def test_a_file_with_arbitrary_pickles_is_never_executed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save_metadata = TorchData(data=torch.zeros(2)).save(tmp_path)
    torch.save({"tensor": torch.zeros(2), "payload": _Payload()}, tmp_path / "data.pt")

    with pytest.raises(SerializationError, match="could not read"):
        TorchData().load(tmp_path, save_metadata)

    assert "must never run" not in capsys.readouterr().out


def test_a_file_holding_something_else_than_a_tensor_is_refused(tmp_path: Path) -> None:
    save_metadata = TorchData(data=torch.zeros(2)).save(tmp_path)
    torch.save({"a": torch.zeros(2)}, tmp_path / "data.pt")

    with pytest.raises(InvalidArgumentError, match="not a tensor"):
        TorchData().load(tmp_path, save_metadata)


@pytest.mark.parametrize(
    "wrong",
    [[1.0, 2.0], {"a": torch.zeros(1)}, torch.nn.Linear(2, 2)],
    ids=["list", "dict", "module"],
)
def test_non_tensor_is_rejected_at_construction(wrong: object) -> None:
    with pytest.raises(InvalidArgumentError, match="TorchData expects a torch Tensor"):
        TorchData(data=wrong)


def test_missing_torch_names_the_torch_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_metadata = TorchData(data=torch.zeros(2)).save(tmp_path)
    monkeypatch.setitem(sys.modules, "torch", None)

    with pytest.raises(MissingDependencyError) as info:
        TorchData().load(tmp_path, save_metadata)

    assert info.value.extra == "torch"
