"""PolarsData: Parquet round trips keep every polars dtype; wrong input fails early."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from opsml.data import DataInterface, DataLoadKwargs, DataSaveKwargs, DataType, PolarsData
from opsml.errors import (
    InvalidArgumentError,
    MissingDependencyError,
    SerializationError,
)

RoundTrip = Callable[..., DataInterface]


@pytest.fixture
def frame() -> pl.DataFrame:
    paris = pl.Series([dt.datetime(2024, 3, 30, 12), None, dt.datetime(2024, 3, 31, 3)])
    return pl.DataFrame(
        {
            "int8": pl.Series([1, None, -3], dtype=pl.Int8),
            "uint64": pl.Series([2**64 - 1, 0, 1], dtype=pl.UInt64),
            "float32": pl.Series([1.5, float("nan"), None], dtype=pl.Float32),
            "string": ["a", None, "ü"],
            "categorical": pl.Series(["x", "y", "x"], dtype=pl.Categorical),
            "enum": pl.Series(["lo", "hi", "lo"], dtype=pl.Enum(["lo", "hi"])),
            "bool": [True, None, False],
            "date": [dt.date(2024, 1, 1), None, dt.date(2024, 1, 3)],
            "paris": paris.dt.replace_time_zone("Europe/Paris"),
            "nanos": pl.Series([dt.datetime(2024, 1, 1), None, None], dtype=pl.Datetime("ns")),
            "duration": [dt.timedelta(seconds=1), None, dt.timedelta(days=2)],
            "decimal": pl.Series(
                [Decimal("1.25"), None, Decimal("-3.50")], dtype=pl.Decimal(10, 2)
            ),
            "list": [[1, 2], None, []],
            "struct": [{"a": 1, "b": "x"}, None, {"a": 3, "b": None}],
            "array": pl.Series([[1.0, 2.0], [3.0, 4.0], None], dtype=pl.Array(pl.Float64, 2)),
        }
    )


def test_round_trip_keeps_values_and_every_dtype(
    frame: pl.DataFrame, round_trip: RoundTrip
) -> None:
    loaded = round_trip(PolarsData(data=frame))

    assert loaded.data.schema == frame.schema
    assert_frame_equal(loaded.data, frame, check_exact=True)


def test_save_writes_data_parquet_and_records_metadata(frame: pl.DataFrame, tmp_path: Path) -> None:
    interface = PolarsData(data=frame)

    metadata = interface.save(tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.parquet"]
    assert metadata.save_metadata.data_uri == Path("data.parquet")
    assert metadata.interface_type == "PolarsData"
    assert metadata.data_type is DataType.Polars
    assert metadata.extra_metadata["polars_version"] == pl.__version__
    assert list(metadata.schema) == frame.columns
    assert metadata.schema["int8"].feature_type == "Int8"
    # OpsML 3 names the dtype's class; the parameters are kept in extra_args.
    assert metadata.schema["paris"].feature_type == "Datetime"
    assert metadata.schema["paris"].extra_args == {"dtype": str(frame.schema["paris"])}
    assert metadata.schema["int8"].extra_args == {}


def test_save_kwargs_reach_write_parquet(frame: pl.DataFrame, tmp_path: Path) -> None:
    PolarsData(data=frame).save(tmp_path, DataSaveKwargs({"compression": "gzip"}))

    parquet = pq.ParquetFile(tmp_path / "data.parquet")
    assert parquet.metadata.row_group(0).column(0).compression == "GZIP"
    parquet.close()


def test_load_kwargs_reach_read_parquet(frame: pl.DataFrame, round_trip: RoundTrip) -> None:
    loaded = round_trip(PolarsData(data=frame), DataLoadKwargs({"columns": ["enum", "int8"]}))

    assert_frame_equal(loaded.data, frame.select("enum", "int8"))


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        ({"a": [1]}, "expects a polars DataFrame, got builtins.dict"),
        (pl.DataFrame({"a": [1]}).lazy(), "call .collect\\(\\) first"),
        (pl.Series([1, 2]), "got polars.series.series.Series"),
    ],
    ids=["dict", "lazyframe", "series"],
)
def test_wrong_type_is_rejected_at_construction(wrong: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        PolarsData(data=wrong)


def test_pandas_frame_is_rejected_at_construction() -> None:

    with pytest.raises(InvalidArgumentError, match=r"got pandas.*DataFrame"):
        PolarsData(data=pd.DataFrame({"a": [1]}))


def test_saving_without_data_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SerializationError, match=r"^No data detected in interface for saving$"):
        PolarsData().save(tmp_path)


def test_loading_a_missing_file_is_a_serialization_error(
    frame: pl.DataFrame, tmp_path: Path
) -> None:
    save_metadata = PolarsData(data=frame).save(tmp_path)
    (tmp_path / "data.parquet").unlink()

    with pytest.raises(SerializationError, match=r"could not read .*data\.parquet"):
        PolarsData().load(tmp_path, save_metadata)


def test_missing_polars_names_the_polars_extra(
    frame: pl.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_metadata = PolarsData(data=frame).save(tmp_path)
    monkeypatch.setitem(sys.modules, "polars", None)

    with pytest.raises(MissingDependencyError) as info:
        PolarsData().load(tmp_path, save_metadata)

    assert info.value.extra == "polars"
