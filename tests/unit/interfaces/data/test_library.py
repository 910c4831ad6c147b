"""A data library plugs in with one module and one registration line.

The library here is a toy (rows of plain Python dicts), written only against the
``DataLibrary`` protocol; once registered, splits, dependent variables, the feature schema,
the data profile, model sample data and ``resolve_interface`` work on it with the very
semantics and messages of the built-in libraries.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import pytest

from opsml.data import (
    ColumnSplit,
    DataInterface,
    DataSplit,
    DataSplits,
    DependentVars,
    Feature,
    FeatureSchema,
    IndiceSplit,
    StartStopSplit,
    generate_feature_schema,
)
from opsml.errors import InvalidArgumentError, UnsupportedTypeError
from opsml.interfaces import DataProfile, ModelInterface
from opsml.interfaces._library import (
    DataLibrary,
    ProfileOptions,
    data_libraries,
    registered_data_library,
)
from opsml.interfaces._profile import (
    FeatureProfile,
    NumericStats,
    create_data_profile,
    distinct,
    histogram,
    histogram_edges,
    quantiles,
)
from opsml.interfaces._splits import ColumnKind

RoundTrip = Callable[..., DataInterface]


class Records:
    """Rows as dicts sharing the same keys: the toy library's only object."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def __getitem__(self, rows: slice) -> Records:
        return Records(self.rows[rows])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Records) and other.rows == self.rows

    __hash__ = None  # type: ignore[assignment]


class RecordsData(DataInterface):
    """Saved with the base class's joblib format; only the type check is its own."""

    @staticmethod
    def _accepts(data: Any) -> bool:
        return isinstance(data, Records)

    def _validate_data(self, data: Any) -> None:
        if not self._accepts(data):
            raise UnsupportedTypeError(f"RecordsData expects Records, got {type(data)}")


def _quantile(ordered: list[float], q: float) -> float:
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class RecordsLibrary(DataLibrary):
    name = "records"
    kind = "a list of records"
    interface = RecordsData

    def accepts(self, data: Any) -> bool:
        return isinstance(data, Records)

    def feature_schema(self, data: Any) -> FeatureSchema | None:
        if not self.accepts(data) or not data.rows:
            return None
        return FeatureSchema(
            {key: Feature(type(value).__name__, [1]) for key, value in data.rows[0].items()}
        )

    def profile(self, data: Any, options: ProfileOptions) -> DataProfile:
        features = {}
        for name in self.columns(data) or []:
            values = sorted(row[name] for row in data.rows if row[name] is not None)
            edges = histogram_edges(values[0], values[-1], options.bin_size)
            below = [sum(v < edge for v in values) for edge in edges[1:-1]]
            features[name] = FeatureProfile(
                id=name,
                dtype="number",
                count=len(values),
                null_count=len(data.rows) - len(values),
                numeric_stats=NumericStats(
                    mean=statistics.fmean(values),
                    stddev=statistics.stdev(values),
                    min=values[0],
                    max=values[-1],
                    distinct=distinct(len(set(values)), len(values)),
                    quantiles=quantiles([_quantile(values, q) for q in (0.25, 0.5, 0.75, 0.99)]),
                    histogram=histogram(edges, below, len(values)),
                ),
            )
        return DataProfile(features=features)

    def columns(self, data: Any) -> list[str] | None:
        return list(data.rows[0]) if data.rows else []

    def n_rows(self, data: Any) -> int:
        return len(data.rows)

    def n_columns(self, data: Any) -> int | None:
        return len(self.columns(data) or [])

    def column_kind(self, data: Any, name: str) -> ColumnKind:
        return "numeric"

    def where(self, data: Any, split: ColumnSplit) -> Any:
        compare = split.inequality.compare
        value = split.column_value
        return Records([row for row in data.rows if compare(row[split.column_name], value)])

    def rows(self, data: Any, start: int, stop: int) -> Any:
        return data[start:stop]

    def take(self, data: Any, indices: list[int]) -> Any:
        return Records([data.rows[i] for i in indices])

    def split_columns(self, rows: Any, positions: list[int]) -> tuple[Any, Any]:
        names = self.columns(rows) or []
        chosen = [names[i] for i in positions]
        x = [{k: v for k, v in row.items() if k not in chosen} for row in rows.rows]
        return Records(x), Records([{k: row[k] for k in chosen} for row in rows.rows])


RECORDS = Records(
    [
        {"age": 31, "income": 10.0, "label": 0},
        {"age": 45, "income": 20.0, "label": 1},
        {"age": 23, "income": None, "label": 0},
        {"age": 52, "income": 40.0, "label": 1},
    ]
)


@pytest.fixture
def records_library() -> Any:
    with registered_data_library(RecordsLibrary()) as library:
        yield library


@pytest.mark.usefixtures("records_library")
def test_splits_and_dependent_vars_follow_the_shared_semantics() -> None:
    splits = DataSplits(
        [
            DataSplit("older", column_split=ColumnSplit("age", 40, inequality=">")),
            DataSplit("first", start_stop_split=StartStopSplit(0, 2)),
            DataSplit("picked", indice_split=IndiceSplit([3, 0])),
        ]
    )

    parts = splits.split_data(RECORDS, dependent_vars=DependentVars(column_names=["label"]))

    assert [row["age"] for row in parts["older"].x.rows] == [45, 52]
    assert parts["older"].y.rows == [{"label": 1}, {"label": 1}]
    assert parts["first"].x.rows[0] == {"age": 31, "income": 10.0}
    assert [row["age"] for row in parts["picked"].x.rows] == [52, 31]


@pytest.mark.usefixtures("records_library")
def test_the_shared_checks_guard_a_new_library_too() -> None:
    with pytest.raises(InvalidArgumentError, match="column 'height' not found"):
        RecordsData(
            data=RECORDS,
            data_splits=[DataSplit("x", column_split=ColumnSplit("height", 1))],
        )
    with pytest.raises(InvalidArgumentError, match="is numeric but the split value 'old'"):
        RecordsData(
            data=RECORDS, data_splits=[DataSplit("x", column_split=ColumnSplit("age", "old"))]
        )
    with pytest.raises(InvalidArgumentError, match="stop=9 is past the last row"):
        RecordsData(
            data=RECORDS, data_splits=[DataSplit("x", start_stop_split=StartStopSplit(0, 9))]
        )
    interface = RecordsData(
        data=RECORDS,
        data_splits=[DataSplit("all", start_stop_split=StartStopSplit(0, 4))],
        dependent_vars=["target"],
    )
    with pytest.raises(InvalidArgumentError, match=r"dependent_vars \['target'\] not found"):
        interface.split_data()


@pytest.mark.usefixtures("records_library")
def test_schema_and_profile_come_from_the_library() -> None:
    interface = RecordsData(data=RECORDS)

    assert generate_feature_schema(RECORDS)["income"].feature_type == "float"
    assert interface.schema["age"].feature_type == "int"
    profile = interface.create_data_profile(bin_size=2)
    income = profile.features["income"]
    assert (income.count, income.null_count) == (3, 1)
    assert income.numeric_stats is not None
    assert income.numeric_stats.histogram.bins == [10.0, 25.0, 40.0]
    assert income.numeric_stats.histogram.bin_counts == [2, 1]
    assert income.numeric_stats.quantiles.q50 == 20.0
    with pytest.raises(InvalidArgumentError, match="bin_size and top_k must be at least 1"):
        interface.create_data_profile(bin_size=0)


@pytest.mark.needs("joblib")  # RecordsData saves with the base class's joblib format
def test_the_library_is_sample_data_and_rebuilt_from_a_card(
    records_library: DataLibrary, round_trip: RoundTrip
) -> None:
    model = ModelInterface(sample_data=RECORDS)

    assert isinstance(model.sample_data, RecordsData)
    assert model.sample_data.data == RECORDS[0:1]
    assert records_library in data_libraries()
    loaded = round_trip(RecordsData(data=RECORDS))
    assert loaded.data == RECORDS


def test_an_unregistered_library_is_named_as_unsupported() -> None:
    with pytest.raises(InvalidArgumentError, match=r"cannot profile a .*Records") as raised:
        create_data_profile(RECORDS)
    assert "list of records" not in str(raised.value)
    assert generate_feature_schema(RECORDS) == FeatureSchema()
    with pytest.raises(UnsupportedTypeError, match="cannot take sample data"):
        ModelInterface(sample_data=RECORDS)
    with registered_data_library(RecordsLibrary()):
        with pytest.raises(InvalidArgumentError, match=r"cannot split a builtins\.dict") as split:
            DataSplits([DataSplit("a", start_stop_split=StartStopSplit(0, 1))]).split_data({})
        assert str(split.value).endswith("a torch tensor or a list of records")
    assert all(library.name != "records" for library in data_libraries())
