"""Sample data of every kind OpsML 3 accepts: kept as its first row, saved, loaded back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import torch
from sklearn.linear_model import LinearRegression

from opsml.data import ArrowData, DataType, NumpyData, PandasData, PolarsData, TorchData
from opsml.errors import UnsupportedTypeError
from opsml.interfaces import resolve_interface
from opsml.model import ModelInterface, ModelInterfaceMetadata, SklearnModel

ROWS = 6


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"a": np.arange(ROWS, dtype=float), "b": np.arange(ROWS) * 2})


@pytest.mark.parametrize(
    ("make", "interface_cls", "data_type"),
    [
        (_frame, PandasData, DataType.Pandas),
        (lambda: pl.from_pandas(_frame()), PolarsData, DataType.Polars),
        (lambda: pa.Table.from_pandas(_frame(), preserve_index=False), ArrowData, DataType.Arrow),
        (lambda: _frame().to_numpy(), NumpyData, DataType.Numpy),
        (lambda: torch.arange(ROWS * 2).reshape(ROWS, 2), TorchData, DataType.TorchTensor),
    ],
    ids=["pandas", "polars", "arrow", "numpy", "torch"],
)
def test_frames_arrays_and_tensors_become_their_data_interface(
    make: Any, interface_cls: type, data_type: DataType
) -> None:
    data = make()

    interface = ModelInterface(sample_data=data)

    assert isinstance(interface.sample_data, interface_cls)
    assert interface.sample_data.data.shape[0] == 1
    assert interface.data_type is data_type
    # The same interface given as sample data is kept, cut to its first row in place.
    given = interface_cls(data=make())
    assert ModelInterface(sample_data=given).sample_data is given
    assert given.data.shape[0] == 1


@pytest.mark.parametrize(
    ("sample", "data_type"),
    [
        ([np.ones((ROWS, 3)), np.zeros((ROWS, 2))], DataType.List),
        ((np.ones((ROWS, 3)), np.zeros((ROWS, 2))), DataType.Tuple),
        ({"x": np.ones((ROWS, 3)), "mask": np.zeros((ROWS, 2), dtype=bool)}, DataType.Dict),
    ],
    ids=["list", "tuple", "dict"],
)
def test_containers_of_arrays_round_trip_without_pickles(
    sample: Any, data_type: DataType, tmp_path: Path
) -> None:
    model = LinearRegression().fit(np.ones((2, 1)), [0.0, 1.0])
    interface = SklearnModel(model=model, sample_data=sample)

    stored = interface.save(tmp_path).model_dump_json()
    metadata = ModelInterfaceMetadata.model_validate_json(stored)
    loaded = resolve_interface(metadata)
    loaded.load(tmp_path, metadata.save_metadata)

    assert metadata.data_type is data_type
    assert metadata.save_metadata.sample_data_uri == Path("sample-data.npz")
    with np.load(tmp_path / "sample-data.npz", allow_pickle=False) as npz:  # no pickles inside
        assert len(npz.files) == 3
    assert type(loaded.sample_data) is type(sample)
    if isinstance(sample, dict):
        assert list(loaded.sample_data) == ["x", "mask"]
        assert loaded.sample_data["mask"].dtype == np.bool_
        assert list(metadata.schema) == ["x", "mask"]
    expected = sample.values() if isinstance(sample, dict) else sample
    got = loaded.sample_data.values() if isinstance(sample, dict) else loaded.sample_data
    for value, original in zip(got, expected, strict=True):
        np.testing.assert_array_equal(value, original[:1])


@pytest.mark.parametrize("make", [pl.from_pandas, pa.Table.from_pandas], ids=["polars", "arrow"])
def test_polars_and_arrow_sample_data_round_trip(make: Any, tmp_path: Path) -> None:
    frame = _frame()
    model = LinearRegression().fit(frame, [0.0] * ROWS)
    interface = SklearnModel(model=model, sample_data=make(frame))

    metadata = interface.save(tmp_path)
    loaded = SklearnModel()
    loaded.load(tmp_path, metadata.save_metadata)

    assert metadata.save_metadata.sample_data_uri == Path("sample-data.parquet")
    assert type(loaded.sample_data) is type(interface.sample_data)
    assert loaded.sample_data.data.to_pandas().equals(frame[:1])


def test_other_objects_are_refused_as_runtime_errors() -> None:
    for wrong in ([[1, 2]], {1: np.ones(2)}, [], "text", np.array([None, 1], dtype=object)):
        with pytest.raises(UnsupportedTypeError) as info:
            ModelInterface(sample_data=wrong)
        assert isinstance(info.value, RuntimeError)
