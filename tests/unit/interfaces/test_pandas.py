"""PandasData: Parquet round trips keep dtypes and index; wrong input fails early."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from opsml.data import (
    DataInterfaceMetadata,
    DataLoadKwargs,
    DataSaveKwargs,
    DataType,
    NumpyData,
    PandasData,
)
from opsml.errors import InvalidArgumentError, MissingDependencyError, SerializationError
from opsml.interfaces import resolve_interface


def _round_trip(
    interface: PandasData, path: Path, load_kwargs: DataLoadKwargs | None = None
) -> PandasData:
    """Save, store the metadata as JSON, rebuild the interface from it and load."""
    save_metadata = interface.save(path)
    stored = interface.get_interface_metadata(save_metadata).model_dump_json()
    metadata = DataInterfaceMetadata.model_validate_json(stored)
    loaded = resolve_interface(metadata)
    assert isinstance(loaded, PandasData)
    assert loaded.data is None
    loaded.load(path, metadata.save_metadata, load_kwargs)
    return loaded


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "int32": np.arange(4, dtype="int32"),
            "float": [1.5, np.nan, 3.0, -4.25],
            "nullable_int": pd.array([1, None, 3, 4], dtype="Int64"),
            "nullable_bool": pd.array([True, None, False, True], dtype="boolean"),
            "category": pd.Categorical(["b", "a", None, "b"], categories=["b", "a"], ordered=True),
            "when": pd.date_range("2024-03-30", periods=4, freq="D", tz="Europe/Paris"),
            "naive": pd.to_datetime(["2020-01-01 00:00:00.000000001"] * 4).astype("datetime64[ns]"),
            "string": pd.array(["x", None, "z", "ü"], dtype="string"),
            "duration": pd.to_timedelta([1, 2, 3, 4], unit="s"),
        },
        index=pd.Index([40, 10, 30, 20], name="row_id"),
    )


def test_round_trip_keeps_dtypes_values_and_index(frame: pd.DataFrame, tmp_path: Path) -> None:
    loaded = _round_trip(PandasData(data=frame), tmp_path)

    pd.testing.assert_frame_equal(loaded.data, frame, check_exact=True)
    assert list(loaded.data.index) == [40, 10, 30, 20]


@pytest.mark.parametrize(
    "index",
    [
        pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)], names=["group", "n"]),
        pd.RangeIndex(start=5, stop=11, step=2),
        pd.Index(["x", "y", "z"], dtype="string", name="key"),
        pd.Index([1, None, 3], dtype="Int64", name="nullable"),
        pd.Index([True, None, False], dtype="boolean"),
        pd.CategoricalIndex(["b", "a", "b"], name="cat"),
        pd.DatetimeIndex(["2021-01-01", "2021-06-01", "2022-01-01"], tz="UTC", name="at"),
        pd.MultiIndex.from_arrays(
            [pd.array(["a", "b", None], dtype="string"), pd.array([1, 2, None], dtype="Int64")],
            names=["s", "i"],
        ),
    ],
    ids=[
        "multi",
        "range-with-step",
        "string",
        "nullable-int",
        "nullable-bool",
        "categorical",
        "datetime-tz",
        "multi-extension-dtypes",
    ],
)
def test_round_trip_keeps_non_default_index(index: pd.Index, tmp_path: Path) -> None:
    frame = pd.DataFrame({"value": [1.0, 2.0, 3.0]}, index=index)

    loaded = _round_trip(PandasData(data=frame), tmp_path)

    pd.testing.assert_frame_equal(loaded.data, frame, check_exact=True)


def test_set_index_on_a_string_column_round_trips(frame: pd.DataFrame, tmp_path: Path) -> None:
    indexed = frame.set_index(["string", "nullable_int"])

    loaded = _round_trip(PandasData(data=indexed), tmp_path)

    pd.testing.assert_frame_equal(loaded.data, indexed, check_exact=True)


def test_load_reads_the_file_as_pandas_read_parquet_does(
    frame: pd.DataFrame, tmp_path: Path
) -> None:
    frame.attrs = {"source": "sensor", "columns": [1, 2]}

    loaded = _round_trip(PandasData(data=frame), tmp_path)

    expected = pd.read_parquet(tmp_path / "data.parquet", engine="pyarrow")
    pd.testing.assert_frame_equal(loaded.data, expected, check_exact=True)
    assert loaded.data.attrs == expected.attrs == frame.attrs


def test_save_writes_data_parquet_and_records_metadata(frame: pd.DataFrame, tmp_path: Path) -> None:
    interface = PandasData(data=frame)

    metadata = interface.save(tmp_path / "card")

    assert sorted(p.name for p in (tmp_path / "card").iterdir()) == ["data.parquet"]
    assert metadata.save_metadata.data_uri == Path("data.parquet")
    assert metadata.interface_type == "PandasData"
    assert metadata.data_type is DataType.Pandas
    assert metadata.extra_metadata["pandas_version"] == pd.__version__
    assert metadata.schema["category"].feature_type == "category"
    assert metadata.schema["when"].feature_type == "datetime64[us, Europe/Paris]"
    assert list(metadata.schema) == list(frame.columns)


def test_save_kwargs_reach_the_parquet_writer(frame: pd.DataFrame, tmp_path: Path) -> None:
    kwargs = DataSaveKwargs({"compression": "gzip"})

    save_metadata = PandasData(data=frame).save(tmp_path, kwargs).save_metadata

    parquet = pq.ParquetFile(tmp_path / "data.parquet")
    assert parquet.metadata.row_group(0).column(0).compression == "GZIP"
    parquet.close()
    assert save_metadata.save_kwargs == kwargs


def test_load_kwargs_reach_the_parquet_reader(frame: pd.DataFrame, tmp_path: Path) -> None:
    loaded = _round_trip(
        PandasData(data=frame), tmp_path, DataLoadKwargs({"columns": ["float", "string"]})
    )

    pd.testing.assert_frame_equal(loaded.data, frame[["float", "string"]])


@pytest.mark.parametrize(
    "wrong",
    [np.zeros((2, 2)), pd.Series([1, 2]), {"a": [1, 2]}, [[1, 2]]],
    ids=["ndarray", "series", "dict", "list"],
)
def test_non_dataframe_is_rejected_at_construction(wrong: object) -> None:
    with pytest.raises(InvalidArgumentError, match="PandasData expects a pandas DataFrame"):
        PandasData(data=wrong)


def test_assigning_wrong_data_later_is_rejected_and_keeps_old_data(frame: pd.DataFrame) -> None:
    interface = PandasData(data=frame)

    with pytest.raises(InvalidArgumentError):
        interface.data = np.zeros(3)

    assert interface.data is frame


def test_saving_without_data_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SerializationError, match=r"^No data detected in interface for saving$"):
        PandasData().save(tmp_path)


def test_unwritable_column_is_a_serialization_error(tmp_path: Path) -> None:
    frame = pd.DataFrame({"thing": [object(), object()]})

    with pytest.raises(SerializationError, match="could not write") as info:
        PandasData(data=frame).save(tmp_path)

    assert info.value.__cause__ is not None


def test_loading_a_missing_file_is_a_serialization_error(
    frame: pd.DataFrame, tmp_path: Path
) -> None:
    interface = PandasData(data=frame)
    save_metadata = interface.save(tmp_path)
    (tmp_path / "data.parquet").unlink()

    with pytest.raises(SerializationError, match=r"could not read .*data\.parquet"):
        PandasData().load(tmp_path, save_metadata)


def test_missing_pyarrow_names_the_pandas_extra(
    frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    interface = PandasData(data=frame)
    monkeypatch.setitem(sys.modules, "pyarrow", None)

    with pytest.raises(MissingDependencyError) as info:
        interface.save(tmp_path)

    assert info.value.extra == "pandas"
    assert "opsml[pandas]" in str(info.value)


def test_from_metadata_refuses_metadata_of_another_interface(tmp_path: Path) -> None:
    numpy_interface = NumpyData(data=np.zeros(3))
    metadata = numpy_interface.get_interface_metadata(numpy_interface.save(tmp_path))

    with pytest.raises(SerializationError, match="saved by 'NumpyData'"):
        PandasData.from_metadata(metadata)


def test_float_columns_skip_dictionary_encoding_unless_asked(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": np.linspace(0.0, 1.0, 50), "city": ["Oslo", "Lima"] * 25})
    PandasData(data=frame).save(tmp_path / "default")
    PandasData(data=frame).save(tmp_path / "asked", DataSaveKwargs(data={"use_dictionary": True}))

    def encodings(folder: Path) -> dict[str, set[str]]:
        meta = pq.ParquetFile(folder / "data.parquet").metadata.row_group(0)
        return {
            meta.column(i).path_in_schema: set(meta.column(i).encodings)
            for i in range(meta.num_columns)
        }

    default, asked = encodings(tmp_path / "default"), encodings(tmp_path / "asked")
    assert "RLE_DICTIONARY" not in default["x"]
    assert "RLE_DICTIONARY" in default["city"]
    assert "RLE_DICTIONARY" in asked["x"]
