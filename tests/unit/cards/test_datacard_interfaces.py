"""Every data interface through the registry: register, load_card, load; the data, its
dtypes, splits, dependent variables, SQL and profile all come back."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from opsml import CardRegistry, DataCard, RegistryType
from opsml.data import (
    ArrowData,
    ColumnSplit,
    DataInterface,
    DataInterfaceSaveMetadata,
    DataLoadKwargs,
    DataSaveKwargs,
    DataSplit,
    IndiceSplit,
    NumpyData,
    PandasData,
    PolarsData,
    SqlData,
    StartStopSplit,
    TorchData,
)
from opsml.errors import CardStateError, InvalidArgumentError

Case = tuple[DataInterface, Callable[[Any, Any], None]]


def _pandas() -> Case:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "id": pd.array([1, 2, None, 4], dtype="Int64"),
            "kind": pd.Categorical(["a", "b", "a", None]),
            "at": pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC"),
            "target": [0.5, 1.5, 2.5, 3.5],
        },
        index=pd.Index([10, 20, 30, 40], name="row"),
    )
    return PandasData(data=frame), pd.testing.assert_frame_equal


def _polars() -> Case:
    import polars as pl
    from polars.testing import assert_frame_equal

    frame = pl.DataFrame(
        {
            "id": pl.Series([1, 2, None, 4], dtype=pl.Int32),
            "kind": pl.Series(["a", "b", "a", "c"], dtype=pl.Enum(["a", "b", "c"])),
            "target": [0.5, 1.5, 2.5, 3.5],
        }
    )
    return PolarsData(data=frame), lambda a, b: assert_frame_equal(a, b, check_exact=True)


def _arrow() -> Case:
    import pyarrow as pa

    table = pa.table(
        {"id": pa.array([1, 2, None, 4], pa.int32()), "target": [0.5, 1.5, 2.5, 3.5]},
        metadata={"source": "unit-test"},
    )

    def same(a: Any, b: Any) -> None:
        assert a.equals(b, check_metadata=True)

    return ArrowData(data=table), same


def _numpy() -> Case:
    import numpy as np

    array = np.arange(8, dtype=np.int16).reshape(4, 2)

    def same(a: Any, b: Any) -> None:
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)

    return NumpyData(data=array), same


def _torch() -> Case:
    import torch

    tensor = torch.arange(8, dtype=torch.float16).reshape(4, 2)

    def same(a: Any, b: Any) -> None:
        assert a.dtype == b.dtype
        assert torch.equal(a, b)

    return TorchData(data=tensor), same


@pytest.fixture(
    params=[
        pytest.param(_pandas, id="pandas", marks=pytest.mark.needs("pandas")),
        pytest.param(_polars, id="polars", marks=pytest.mark.needs("polars")),
        pytest.param(_arrow, id="arrow", marks=pytest.mark.needs("pyarrow")),
        pytest.param(_numpy, id="numpy", marks=pytest.mark.needs("numpy")),
        pytest.param(_torch, id="torch", marks=pytest.mark.needs("torch")),
    ]
)
def case(request: pytest.FixtureRequest) -> Case:
    build: Callable[[], Case] = request.param
    return build()


def _card_folder(storage: Path, card: DataCard) -> Path:
    return storage / RegistryType.Data.table_name / card.space / card.name / f"v{card.version}"


def test_register_load_round_trip(case: Case, both_modes_registry_env: Path) -> None:
    interface, assert_same = case
    registry = CardRegistry(RegistryType.Data)
    card = DataCard(interface=interface, space="team-a", name="dataset")

    registry.register_card(card)
    loaded = registry.load_card(space="team-a", name="dataset")
    assert loaded.interface is None  # metadata only until load()
    loaded.load()

    assert type(loaded.interface) is type(interface)
    assert_same(loaded.data, interface.data)
    assert list(loaded.metadata.schema) == list(interface.schema)
    assert loaded.data_type == interface.data_type


def test_splits_dependent_vars_sql_and_profile_come_back(
    case: Case, both_modes_registry_env: Path
) -> None:
    interface, _ = case
    interface.data_splits = [
        DataSplit(label="train", start_stop_split=StartStopSplit(start=0, stop=3)),
        DataSplit(label="test", indice_split=IndiceSplit(indices=[3])),
    ]
    interface.dependent_vars = [1] if isinstance(interface, NumpyData | TorchData) else ["target"]
    interface.add_sql_logic("source", query="select * from events")
    card = DataCard(interface=interface, space="team-a", name="dataset")
    profile = card.create_data_profile(bin_size=4)
    registry = CardRegistry(RegistryType.Data)

    registry.register_card(card)
    loaded = registry.load_card(uid=card.uid)
    loaded.load()

    folder = _card_folder(both_modes_registry_env, card)
    assert (folder / "data-profile.json").is_file()
    assert (folder / "sql" / "source.sql").read_text() == "select * from events"
    restored = loaded.interface
    assert restored is not None
    assert restored.data_splits == interface.data_splits
    assert restored.dependent_vars == interface.dependent_vars
    assert restored.sql_logic.queries == {"source": "select * from events"}
    assert restored.data_profile is not None
    assert restored.data_profile.model_dump_json() == profile.model_dump_json()
    parts = loaded.split_data()
    assert list(parts) == ["train", "test"]
    assert len(parts["train"].x) == 3
    assert len(parts["test"].y) == 1


@pytest.mark.needs("pandas")
def test_a_given_interface_receives_the_stored_splits(both_modes_registry_env: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"a": [1, 2, 3]})
    split = DataSplit(label="big", column_split=ColumnSplit("a", 2, inequality=">="))
    registry = CardRegistry(RegistryType.Data)
    card = DataCard(interface=PandasData(data=frame, data_splits=[split]), space="s", name="n")
    registry.register_card(card)

    loaded = registry.load_card(space="s", name="n", interface=PandasData())
    loaded.load()

    assert loaded.split_data()["big"].x["a"].tolist() == [2, 3]


@pytest.mark.needs("polars", "pyarrow")
def test_save_and_load_kwargs_reach_the_library(both_modes_registry_env: Path) -> None:
    import polars as pl
    import pyarrow.parquet as pq

    frame = pl.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    registry = CardRegistry(RegistryType.Data)
    card = DataCard(interface=PolarsData(data=frame), space="s", name="kw")

    registry.register_card(card, save_kwargs=DataSaveKwargs({"compression": "snappy"}))
    loaded = registry.load_card(uid=card.uid)
    loaded.load(load_kwargs=DataLoadKwargs({"columns": ["b"]}))

    parquet = pq.ParquetFile(_card_folder(both_modes_registry_env, card) / "data.parquet")
    assert parquet.metadata.row_group(0).column(0).compression == "SNAPPY"
    parquet.close()
    assert loaded.data.columns == ["b"]


def test_sql_data_card_holds_only_queries(both_modes_registry_env: Path, tmp_path: Path) -> None:
    (tmp_path / "daily.sql").write_text("select day from events")
    registry = CardRegistry(RegistryType.Data)
    card = DataCard(
        interface=SqlData(sql_logic={"users": "select 1", "daily": str(tmp_path / "daily.sql")}),
        space="s",
        name="queries",
    )

    registry.register_card(card)
    loaded = registry.load_card(uid=card.uid)
    loaded.load()

    files = sorted(p.name for p in _card_folder(both_modes_registry_env, card).rglob("*.sql"))
    assert files == ["daily.sql", "users.sql"]
    assert loaded.interface is not None
    assert loaded.interface.sql_logic["daily"] == "select day from events"
    with pytest.raises(CardStateError, match="data is not loaded"):
        _ = loaded.data


class DictData(DataInterface):
    """A custom interface that writes its own file and knows nothing about profiles."""

    def save(
        self, path: Path, save_kwargs: DataSaveKwargs | None = None
    ) -> DataInterfaceSaveMetadata:
        (path / "data.json").write_text(json.dumps(self.data), encoding="utf-8")
        return DataInterfaceSaveMetadata(data_uri="data.json")

    def load(
        self,
        path: Path,
        metadata: DataInterfaceSaveMetadata,
        load_kwargs: DataLoadKwargs | None = None,
    ) -> None:
        self.data = json.loads((path / metadata.data_uri).read_text(encoding="utf-8"))


@pytest.mark.needs("numpy")
def test_the_card_stores_profile_and_sql_of_custom_interfaces(
    both_modes_registry_env: Path,
) -> None:
    import numpy as np

    from opsml.data import DataProfile
    from opsml.interfaces._profile import create_data_profile

    profile = create_data_profile(np.array([1.0, 2.0, 2.0]))
    interface = DictData(data={"a": [1.0, 2.0, 2.0]}, sql_logic={"q": "select 1"})
    interface.data_profile = profile
    registry = CardRegistry(RegistryType.Data)
    card = DataCard(interface=interface, space="s", name="custom")

    registry.register_card(card)
    loaded = registry.load_card(uid=card.uid, interface=DictData())
    loaded.load()

    assert loaded.data == {"a": [1.0, 2.0, 2.0]}
    assert loaded.interface is not None
    assert isinstance(loaded.interface.data_profile, DataProfile)
    assert loaded.interface.data_profile.model_dump_json() == profile.model_dump_json()
    assert loaded.interface.sql_logic.queries == {"q": "select 1"}


def test_card_methods_need_an_interface() -> None:
    card = DataCard(space="s", name="empty")

    with pytest.raises(CardStateError, match="has no interface"):
        card.split_data()
    with pytest.raises(CardStateError, match="has no interface"):
        card.create_data_profile()


@pytest.mark.needs("pandas")
def test_a_bad_split_fails_before_the_card_exists() -> None:
    import pandas as pd

    bad = DataSplit(label="x", column_split=ColumnSplit("missing", 1))

    with pytest.raises(InvalidArgumentError, match="column 'missing' not found"):
        DataCard(interface=PandasData(data=pd.DataFrame({"a": [1]}), data_splits=[bad]))
