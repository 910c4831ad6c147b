"""NumpyData: .npy round trips without pickles; object arrays are refused up front."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opsml.data import (
    DataInterfaceMetadata,
    DataLoadKwargs,
    DataSaveKwargs,
    DataType,
    NumpyData,
)
from opsml.errors import InvalidArgumentError, MissingDependencyError, SerializationError
from opsml.interfaces import resolve_interface


def _round_trip(
    array: np.ndarray, path: Path, load_kwargs: DataLoadKwargs | None = None
) -> NumpyData:
    interface = NumpyData(data=array)
    stored = interface.get_interface_metadata(interface.save(path)).model_dump_json()
    metadata = DataInterfaceMetadata.model_validate_json(stored)
    loaded = resolve_interface(metadata)
    assert isinstance(loaded, NumpyData)
    loaded.load(path, metadata.save_metadata, load_kwargs)
    return loaded


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.array([[1, -2], [3, 4]], dtype=np.int64),
        np.array([True, False, True]),
        np.array(["short", "longer text", "ü"], dtype="<U11"),
        np.array(["2024-01-01T00:00:00.000000001"], dtype="datetime64[ns]"),
        np.array([(1, 2.5), (3, -1.0)], dtype=[("id", "<i4"), ("score", "<f8")]),
        np.zeros((2, 0, 3), dtype=np.complex128),
    ],
    ids=["float32-2d", "int64", "bool", "unicode", "datetime-ns", "structured", "empty-3d"],
)
def test_round_trip_keeps_values_dtype_and_shape(array: np.ndarray, tmp_path: Path) -> None:
    loaded = _round_trip(array, tmp_path)

    assert loaded.data.dtype == array.dtype
    assert loaded.data.shape == array.shape
    np.testing.assert_array_equal(loaded.data, array)


def test_save_writes_data_npy_and_records_schema(tmp_path: Path) -> None:
    interface = NumpyData(data=np.zeros((3, 4), dtype=np.float32))

    metadata = interface.save(tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npy"]
    assert metadata.save_metadata.data_uri == Path("data.npy")
    assert metadata.data_type is DataType.Numpy
    assert metadata.interface_type == "NumpyData"
    assert metadata.extra_metadata == {"numpy_version": np.__version__}
    assert metadata.schema["numpy_array"].feature_type == "float32"
    assert metadata.schema["numpy_array"].shape == [3, 4]
    # any numpy reader can open it without pickles
    np.testing.assert_array_equal(
        np.load(tmp_path / "data.npy", allow_pickle=False), np.zeros((3, 4))
    )


def test_object_arrays_are_refused_at_construction() -> None:
    with pytest.raises(InvalidArgumentError, match="pickles"):
        NumpyData(data=np.array([{"a": 1}, None], dtype=object))


@pytest.mark.parametrize(
    "wrong",
    [pd.DataFrame({"a": [1]}), [1, 2, 3], 3.0],
    ids=["dataframe", "list", "float"],
)
def test_non_ndarray_is_rejected_at_construction(wrong: object) -> None:
    with pytest.raises(InvalidArgumentError, match="NumpyData expects a numpy ndarray"):
        NumpyData(data=wrong)


def test_allow_pickle_cannot_be_passed(tmp_path: Path) -> None:
    interface = NumpyData(data=np.arange(3))
    with pytest.raises(InvalidArgumentError, match="allow_pickle"):
        interface.save(tmp_path, DataSaveKwargs({"allow_pickle": True}))

    save_metadata = interface.save(tmp_path)
    with pytest.raises(InvalidArgumentError, match="allow_pickle"):
        NumpyData().load(tmp_path, save_metadata, DataLoadKwargs({"allow_pickle": True}))


def test_a_pickled_file_is_never_loaded(tmp_path: Path) -> None:
    save_metadata = NumpyData(data=np.arange(3)).save(tmp_path)
    np.save(tmp_path / "data.npy", np.array([object()], dtype=object), allow_pickle=True)

    interface = NumpyData()
    with pytest.raises(SerializationError, match="could not read"):
        interface.load(tmp_path, save_metadata)
    assert interface.data is None


def test_load_kwargs_reach_np_load(tmp_path: Path) -> None:
    loaded = _round_trip(np.arange(5), tmp_path, DataLoadKwargs({"mmap_mode": "r"}))

    assert isinstance(loaded.data, np.memmap)
    np.testing.assert_array_equal(loaded.data, np.arange(5))


def test_saving_without_data_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SerializationError, match=r"^No data detected in interface for saving$"):
        NumpyData().save(tmp_path)


def test_missing_numpy_names_the_numpy_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_metadata = NumpyData(data=np.arange(3)).save(tmp_path)
    monkeypatch.setitem(sys.modules, "numpy", None)

    with pytest.raises(MissingDependencyError) as info:
        NumpyData().load(tmp_path, save_metadata)

    assert info.value.extra == "numpy"
