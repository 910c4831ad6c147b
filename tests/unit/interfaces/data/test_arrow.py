"""ArrowData: Parquet round trips keep types, schema and field metadata; wrong input fails."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from opsml.data import ArrowData, DataInterface, DataLoadKwargs, DataSaveKwargs, DataType
from opsml.errors import (
    InvalidArgumentError,
    MissingDependencyError,
    SerializationError,
)

RoundTrip = Callable[..., DataInterface]


@pytest.fixture
def table() -> pa.Table:
    table = pa.table(
        {
            "int16": pa.array([1, None, 3], pa.int16()),
            "uint64": pa.array([2**64 - 1, 0, 1], pa.uint64()),
            "float": pa.array([1.5, float("-inf"), None], pa.float64()),
            "large_string": pa.array(["x", None, "ü"], pa.large_string()),
            "dictionary": pa.array(["a", "b", "a"]).dictionary_encode(),
            "tokyo": pa.array([1, None, 3], pa.timestamp("ms", tz="Asia/Tokyo")),
            "date": pa.array([0, 1, None], pa.date32()),
            "decimal": pa.array([None, None, None], pa.decimal128(10, 2)),
            "list": pa.array([[1], None, []], pa.list_(pa.int32())),
            "struct": pa.array([{"a": 1}, None, {"a": None}], pa.struct([("a", pa.int8())])),
        }
    )
    schema = table.schema.set(0, table.schema.field(0).with_metadata({"unit": "kg"}))
    return table.cast(schema).replace_schema_metadata({"owner": "team-a"})


def test_round_trip_keeps_types_values_and_metadata(table: pa.Table, round_trip: RoundTrip) -> None:
    loaded = round_trip(ArrowData(data=table))

    assert loaded.data.schema.equals(table.schema, check_metadata=True)
    assert loaded.data.equals(table, check_metadata=True)
    assert loaded.data.schema.metadata == {b"owner": b"team-a"}
    assert loaded.data.schema.field("int16").metadata == {b"unit": b"kg"}


def test_nan_survives_the_round_trip(round_trip: RoundTrip) -> None:
    table = pa.table({"x": [float("nan"), 1.0, None]})

    loaded = round_trip(ArrowData(data=table)).data

    assert pc.is_nan(loaded["x"]).to_pylist() == [True, False, None]


def test_save_writes_data_parquet_and_records_metadata(table: pa.Table, tmp_path: Path) -> None:
    interface = ArrowData(data=table)

    save_metadata = interface.save(tmp_path)
    metadata = interface.get_interface_metadata(save_metadata)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.parquet"]
    assert metadata.interface_type == "ArrowData"
    assert metadata.data_type is DataType.Arrow
    assert metadata.extra_metadata["pyarrow_version"] == pa.__version__
    assert list(metadata.schema) == table.column_names
    assert metadata.schema["tokyo"].feature_type == "timestamp[ms, tz=Asia/Tokyo]"


def test_save_kwargs_reach_write_table(table: pa.Table, tmp_path: Path) -> None:
    ArrowData(data=table).save(tmp_path, DataSaveKwargs({"compression": "zstd"}))

    parquet = pq.ParquetFile(tmp_path / "data.parquet")
    assert parquet.metadata.row_group(0).column(0).compression == "ZSTD"
    parquet.close()


def test_load_kwargs_reach_read_table(table: pa.Table, round_trip: RoundTrip) -> None:
    loaded = round_trip(ArrowData(data=table), DataLoadKwargs({"columns": ["date", "int16"]}))

    assert loaded.data.column_names == ["date", "int16"]
    assert loaded.data.equals(table.select(["date", "int16"]))


@pytest.mark.parametrize(
    "wrong",
    [{"a": [1]}, pa.array([1, 2]), pa.record_batch({"a": [1]})],
    ids=["dict", "array", "record-batch"],
)
def test_wrong_type_is_rejected_at_construction(wrong: object) -> None:
    with pytest.raises(InvalidArgumentError, match="ArrowData expects a pyarrow Table"):
        ArrowData(data=wrong)


def test_saving_without_data_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SerializationError, match=r"^No data detected in interface for saving$"):
        ArrowData().save(tmp_path)


def test_corrupt_file_is_a_serialization_error(table: pa.Table, tmp_path: Path) -> None:
    save_metadata = ArrowData(data=table).save(tmp_path)
    (tmp_path / "data.parquet").write_bytes(b"not parquet")

    with pytest.raises(SerializationError, match=r"could not read .*data\.parquet"):
        ArrowData().load(tmp_path, save_metadata)


def test_missing_pyarrow_names_the_arrow_extra(
    table: pa.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    interface = ArrowData(data=table)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)

    with pytest.raises(MissingDependencyError) as info:
        interface.save(tmp_path)

    assert info.value.extra == "arrow"
