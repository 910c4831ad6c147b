"""Data splits and dependent variables: built once, checked against the data, applied by
each library, stored in the card metadata."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from typing import Any

import pytest

from opsml.data import (
    ArrowData,
    ColType,
    ColumnSplit,
    DataInterface,
    DataSplit,
    DataSplits,
    DataSplitter,
    DependentVars,
    IndiceSplit,
    Inequality,
    NumpyData,
    PandasData,
    PolarsData,
    StartStopSplit,
    TorchData,
)
from opsml.errors import InvalidArgumentError

RoundTrip = Callable[..., DataInterface]

# --- the split objects themselves -----------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("==", Inequality.Equal),
        (">", Inequality.GreaterThan),
        (">=", Inequality.GreaterThanEqual),
        ("<", Inequality.LesserThan),
        ("<=", Inequality.LesserThanEqual),
        ("lesserthanequal", Inequality.LesserThanEqual),
        (Inequality.GreaterThan, Inequality.GreaterThan),
        (None, Inequality.Equal),
    ],
)
def test_inequality_from_symbol_or_name(given: Any, expected: Inequality) -> None:
    split = ColumnSplit(column_name="a", column_value=1, inequality=given)

    assert split.inequality is expected
    assert expected.symbol in ("==", ">", ">=", "<", "<=")


@pytest.mark.parametrize("wrong", ["=>", "eq", "!=", 3])
def test_unknown_inequality_is_an_error_not_a_silent_default(wrong: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="inequality must be one of"):
        ColumnSplit(column_name="a", column_value=1, inequality=wrong)


def test_timestamp_values_are_epoch_seconds_iso_text_or_datetimes() -> None:
    aware = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)

    from_epoch = ColumnSplit("t", aware.timestamp(), ColType.Timestamp)
    from_text = ColumnSplit("t", "2024-01-02T00:00:00+00:00", ColType.Timestamp)
    from_datetime = ColumnSplit("t", aware)

    assert from_epoch.timestamp() == from_text.timestamp() == from_datetime.timestamp() == aware
    assert from_datetime.column_type is ColType.Timestamp
    assert from_datetime.column_value == "2024-01-02T00:00:00+00:00"
    with pytest.raises(InvalidArgumentError, match="not an ISO 8601 date/time"):
        ColumnSplit("t", "last tuesday", ColType.Timestamp)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: DataSplit(label="x"), "exactly one of"),
        (
            lambda: DataSplit(
                label="x",
                start_stop_split=StartStopSplit(0, 1),
                indice_split=IndiceSplit([0]),
            ),
            "exactly one of",
        ),
        (lambda: DataSplit(label="", indice_split=IndiceSplit([0])), "needs a label"),
        (lambda: StartStopSplit(start=5, stop=2), "0 <= start <= stop"),
        (lambda: StartStopSplit(start=-1, stop=2), "0 <= start <= stop"),
        (lambda: IndiceSplit(indices=[0, -1]), ">= 0"),
        (lambda: ColumnSplit("a", float("nan")), "cannot be NaN"),
        (lambda: DependentVars(column_names=["a"], column_indices=[0]), "not both"),
        (lambda: DependentVars(column_names=["a", "a"]), "duplicates"),
        (
            lambda: DataSplits(
                [
                    DataSplit(label="a", indice_split=IndiceSplit([0])),
                    DataSplit(label="a", indice_split=IndiceSplit([1])),
                ]
            ),
            "labels must be unique",
        ),
    ],
    ids=[
        "no-selection",
        "two-selections",
        "no-label",
        "start-after-stop",
        "negative-start",
        "negative-index",
        "nan-value",
        "names-and-indices",
        "duplicate-names",
        "duplicate-labels",
    ],
)
def test_invalid_split_objects_are_rejected(build: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        build()


def test_splits_round_trip_through_json() -> None:
    splits = DataSplits(
        [
            DataSplit(label="a", column_split=ColumnSplit("x", 1.5, inequality=">=")),
            DataSplit(label="b", column_split=ColumnSplit("t", "2024-01-01", ColType.Timestamp)),
            DataSplit(label="c", start_stop_split=StartStopSplit(0, 4)),
            DataSplit(label="d", indice_split=IndiceSplit([3, 1])),
        ]
    )

    assert DataSplits.model_validate_json(splits.model_dump_json()) == splits
    assert [s.label for s in splits] == ["a", "b", "c", "d"]


# --- frames: the same rows in pandas, polars and pyarrow -------------------------------------

ROWS = 10


def _columns() -> dict[str, Any]:
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return {
        "id": list(range(ROWS)),
        "score": [i / 2 for i in range(ROWS)],
        "city": ["paris", "oslo"] * (ROWS // 2),
        "when": [start + dt.timedelta(days=i) for i in range(ROWS)],
        "target": [i % 2 for i in range(ROWS)],
    }


def _pandas() -> tuple[Any, type[DataInterface]]:
    import pandas as pd

    return pd.DataFrame(_columns()), PandasData


def _polars() -> tuple[Any, type[DataInterface]]:
    import polars as pl

    return pl.DataFrame(_columns()), PolarsData


def _arrow() -> tuple[Any, type[DataInterface]]:
    import pyarrow as pa

    return pa.table(_columns()), ArrowData


@pytest.fixture(
    params=[
        pytest.param(_pandas, id="pandas", marks=pytest.mark.needs("pandas")),
        pytest.param(_polars, id="polars", marks=pytest.mark.needs("polars")),
        pytest.param(_arrow, id="arrow", marks=pytest.mark.needs("pyarrow")),
    ]
)
def frame(request: pytest.FixtureRequest) -> tuple[Any, type[DataInterface]]:
    """(frame, interface class) for each frame library."""
    build: Callable[[], tuple[Any, type[DataInterface]]] = request.param
    return build()


def _column(table: Any, name: str) -> list[Any]:
    if hasattr(table, "to_pylist"):  # pyarrow
        return list(table[name].to_pylist())
    return list(table[name].to_list()) if hasattr(table[name], "to_list") else list(table[name])


def _names(table: Any) -> list[str]:
    return [
        str(c) for c in (table.column_names if hasattr(table, "column_names") else table.columns)
    ]


def _split(frame: tuple[Any, type[DataInterface]], *splits: DataSplit, **kwargs: Any) -> Any:
    data, interface_cls = frame
    return interface_cls(data=data, data_splits=list(splits), **kwargs).split_data()


@pytest.mark.parametrize(
    ("inequality", "value", "ids"),
    [
        ("==", 3, [3]),
        (">", 7, [8, 9]),
        (">=", 7, [7, 8, 9]),
        ("<", 2, [0, 1]),
        ("<=", 2, [0, 1, 2]),
    ],
)
def test_column_split_by_value(frame: Any, inequality: str, value: int, ids: list[int]) -> None:
    split = DataSplit(label="s", column_split=ColumnSplit("id", value, inequality=inequality))

    assert _column(_split(frame, split)["s"].x, "id") == ids


def test_column_split_on_floats_and_strings(frame: Any) -> None:
    result = _split(
        frame,
        DataSplit(label="high", column_split=ColumnSplit("score", 3.5, inequality=">=")),
        DataSplit(label="oslo", column_split=ColumnSplit("city", "oslo")),
    )

    assert _column(result["high"].x, "id") == [7, 8, 9]
    assert _column(result["oslo"].x, "id") == [1, 3, 5, 7, 9]


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-08",  # naive: read in the column's time zone (UTC)
        "2024-01-08T01:00:00+01:00",  # same instant, other zone
        dt.datetime(2024, 1, 8, tzinfo=dt.UTC).timestamp(),  # epoch seconds
        dt.datetime(2024, 1, 8, tzinfo=dt.UTC),
    ],
    ids=["naive-text", "offset-text", "epoch", "datetime"],
)
def test_timestamp_split_compares_instants(frame: Any, value: Any) -> None:
    split = ColumnSplit("when", value, ColType.Timestamp, inequality=">=")

    assert _column(_split(frame, DataSplit(label="late", column_split=split))["late"].x, "id") == [
        7,
        8,
        9,
    ]


def test_row_range_and_indices_splits(frame: Any) -> None:
    result = _split(
        frame,
        DataSplit(label="head", start_stop_split=StartStopSplit(start=2, stop=5)),
        DataSplit(label="picked", indice_split=IndiceSplit(indices=[9, 0, 4])),
    )

    assert _column(result["head"].x, "id") == [2, 3, 4]
    assert _column(result["picked"].x, "id") == [9, 0, 4]
    assert list(result) == ["head", "picked"]


@pytest.mark.parametrize(
    "dependent_vars",
    [DependentVars(column_names=["target"]), DependentVars(column_indices=[4]), ["target"], [4]],
    ids=["names", "indices", "list-of-names", "list-of-indices"],
)
def test_dependent_vars_go_to_y(frame: Any, dependent_vars: Any) -> None:
    split = DataSplit(label="odd", indice_split=IndiceSplit([1, 3]))

    part = _split(frame, split, dependent_vars=dependent_vars)["odd"]

    assert _names(part.x) == ["id", "score", "city", "when"]
    assert _names(part.y) == ["target"]
    assert type(part.x) is type(frame[0])
    assert _column(part.y, "target") == [1, 1]


def test_without_dependent_vars_y_is_none(frame: Any) -> None:
    part = _split(frame, DataSplit(label="all", start_stop_split=StartStopSplit(0, ROWS)))["all"]

    assert part.y is None
    assert _names(part.x) == _names(frame[0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"data_splits": [DataSplit(label="x", column_split=ColumnSplit("nope", 1))]},
            "column 'nope' not found",
        ),
        (
            {"data_splits": [DataSplit(label="x", indice_split=IndiceSplit([ROWS]))]},
            "index 10 is out of range",
        ),
        (
            {"data_splits": [DataSplit(label="x", start_stop_split=StartStopSplit(0, ROWS + 1))]},
            "past the last row",
        ),
        (
            {"data_splits": [DataSplit(label="x", column_split=ColumnSplit("id", "3"))]},
            "column 'id' is numeric but the split value '3' is a str",
        ),
        (
            {
                "data_splits": [
                    DataSplit(label="x", column_split=ColumnSplit("id", 3, ColType.Timestamp))
                ]
            },
            "is not a date/time column",
        ),
        (
            {"data_splits": [DataSplit(label="x", column_split=ColumnSplit("when", "2024-01-01"))]},
            "use column_type=ColType.Timestamp",
        ),
    ],
    ids=[
        "missing-column",
        "index-out-of-range",
        "stop-past-end",
        "wrong-value-type",
        "timestamp-on-number",
        "builtin-on-timestamp",
    ],
)
def test_splits_that_do_not_fit_fail_at_construction(
    frame: Any, kwargs: dict[str, Any], message: str
) -> None:
    data, interface_cls = frame

    with pytest.raises(InvalidArgumentError, match=message):
        interface_cls(data=data, **kwargs)


@pytest.mark.parametrize(
    ("dependent_vars", "message"),
    [(["nope"], r"dependent_vars \['nope'\] not found"), ([5], "column index 5 is out of range")],
    ids=["missing-dependent-var", "dependent-index-out-of-range"],
)
def test_dependent_vars_that_do_not_fit_fail_when_splitting(
    frame: Any, dependent_vars: list[Any], message: str
) -> None:
    data, interface_cls = frame
    # Accepted when set (as in OpsML 3: a model's features may lack its target column)...
    interface = interface_cls(
        data=data,
        dependent_vars=dependent_vars,
        data_splits=[DataSplit(label="all", start_stop_split=StartStopSplit(0, ROWS))],
    )

    # ...and refused by split_data, which needs them.
    with pytest.raises(InvalidArgumentError, match=message):
        interface.split_data()


def test_splits_are_checked_again_when_data_or_splits_are_set(frame: Any) -> None:
    data, interface_cls = frame
    bad = [DataSplit(label="x", column_split=ColumnSplit("nope", 1))]
    interface = interface_cls(data_splits=bad)  # nothing to check against yet

    with pytest.raises(InvalidArgumentError, match="column 'nope' not found"):
        interface.data = data
    assert interface.data is None

    interface = interface_cls(data=data)
    with pytest.raises(InvalidArgumentError, match="column 'nope' not found"):
        interface.data_splits = bad
    assert len(interface.data_splits) == 0


def test_splits_and_dependent_vars_survive_the_card_metadata(
    frame: Any, round_trip: RoundTrip
) -> None:
    data, interface_cls = frame
    splits = [
        DataSplit(label="train", column_split=ColumnSplit("id", 7, inequality="<")),
        DataSplit(label="test", column_split=ColumnSplit("id", 7, inequality=">=")),
    ]

    loaded = round_trip(interface_cls(data=data, data_splits=splits, dependent_vars=["target"]))

    assert loaded.data_splits == DataSplits(splits)
    assert loaded.dependent_vars == DependentVars(column_names=["target"])
    result = loaded.split_data()
    assert _column(result["test"].x, "id") == [7, 8, 9]
    assert _column(result["test"].y, "target") == [1, 0, 1]


def test_split_data_without_splits_says_so(frame: Any) -> None:
    data, interface_cls = frame

    with pytest.raises(InvalidArgumentError, match="has no data_splits"):
        interface_cls(data=data).split_data()


@pytest.mark.needs("pandas")
def test_unordered_categorical_cannot_be_ranked() -> None:
    import pandas as pd

    frame = pd.DataFrame({"c": pd.Categorical(["a", "b"])})
    split = DataSplit(label="x", column_split=ColumnSplit("c", "a", inequality=">"))

    with pytest.raises(InvalidArgumentError, match="DataSplit 'x' failed"):
        PandasData(data=frame, data_splits=[split]).split_data()


@pytest.mark.needs("pandas")
def test_naive_value_is_read_in_the_column_time_zone() -> None:
    import pandas as pd

    frame = pd.DataFrame({"at": pd.date_range("2024-01-01", periods=4, freq="h", tz="Asia/Tokyo")})
    split = ColumnSplit("at", "2024-01-01T02:00:00", ColType.Timestamp, inequality=">=")

    part = PandasData(data=frame, data_splits=[DataSplit(label="s", column_split=split)])

    assert len(part.split_data()["s"].x) == 2


# --- arrays and tensors: rows by position, columns by index ---------------------------------


@pytest.mark.needs("numpy")
def test_numpy_splits_rows_and_separates_columns_by_index() -> None:
    import numpy as np

    array = np.arange(20).reshape(10, 2)
    interface = NumpyData(
        data=array,
        data_splits=[
            DataSplit(label="range", start_stop_split=StartStopSplit(2, 4)),
            DataSplit(label="picked", indice_split=IndiceSplit([9, 0])),
        ],
        dependent_vars=[1],
    )

    result = interface.split_data()

    np.testing.assert_array_equal(result["range"].x, [[4], [6]])
    np.testing.assert_array_equal(result["range"].y, [[5], [7]])
    np.testing.assert_array_equal(result["picked"].x, [[18], [0]])


@pytest.mark.needs("torch")
def test_torch_splits_rows_and_separates_columns_by_index() -> None:
    import torch

    tensor = torch.arange(30).reshape(10, 3)
    interface = TorchData(
        data=tensor,
        data_splits=[DataSplit(label="picked", indice_split=IndiceSplit([1, 2]))],
        dependent_vars=DependentVars(column_indices=[0]),
    )

    part = interface.split_data()["picked"]

    assert torch.equal(part.x, torch.tensor([[4, 5], [7, 8]]))
    assert torch.equal(part.y, torch.tensor([[3], [6]]))


@pytest.mark.parametrize(
    "library",
    [
        pytest.param("numpy", marks=pytest.mark.needs("numpy")),
        pytest.param("torch", marks=pytest.mark.needs("torch")),
    ],
)
def test_arrays_have_no_named_columns(library: str) -> None:
    module = importlib.import_module(library)
    data = module.zeros((4, 2))
    interface_cls = NumpyData if library == "numpy" else TorchData

    with pytest.raises(InvalidArgumentError, match="has no named columns"):
        interface_cls(
            data=data, data_splits=[DataSplit(label="x", column_split=ColumnSplit("a", 1))]
        )
    rows = [DataSplit(label="x", start_stop_split=StartStopSplit(0, 2))]
    with pytest.raises(InvalidArgumentError, match="has no named columns"):
        interface_cls(data=data, dependent_vars=["a"], data_splits=rows).split_data()
    with pytest.raises(InvalidArgumentError, match="is not 2-D"):
        interface_cls(data=module.zeros(4), dependent_vars=[0], data_splits=rows).split_data()


def test_data_splitter_applies_one_split(frame: Any) -> None:
    data, _ = frame
    split = DataSplit(label="s", column_split=ColumnSplit("id", 8, inequality=">="))

    part = DataSplitter.split_data(split, data, dependent_vars=DependentVars(["target"]))

    assert _column(part.x, "id") == [8, 9]
    assert _column(part.y, "target") == [0, 1]
