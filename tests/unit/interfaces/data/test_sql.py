"""SqlLogic and SqlData: named queries saved as sql/<name>.sql, and read back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from opsml.data import DataInterface, DataType, SqlData, SqlLogic
from opsml.errors import InvalidArgumentError, SerializationError

RoundTrip = Callable[..., DataInterface]


def test_queries_are_text_or_the_content_of_a_sql_file(tmp_path: Path) -> None:
    (tmp_path / "daily.sql").write_text("SELECT day, count(*) FROM events GROUP BY day\n")

    logic = SqlLogic({"users": "select * from users", "daily": str(tmp_path / "daily.sql")})

    assert logic["users"] == "select * from users"
    assert logic["daily"] == "SELECT day, count(*) FROM events GROUP BY day\n"
    assert len(logic) == 2


def test_a_query_mentioning_a_sql_file_is_still_a_query() -> None:
    logic = SqlLogic({"q": "select * from dump.sql"})

    assert logic["q"] == "select * from dump.sql"


def test_add_sql_logic_takes_a_query_or_a_file(tmp_path: Path) -> None:
    (tmp_path / "b.sql").write_text("select 2")
    logic = SqlLogic()

    logic.add_sql_logic("a", query="select 1")
    logic.add_sql_logic("b", filepath=str(tmp_path / "b.sql"))

    assert logic.queries == {"a": "select 1", "b": "select 2"}
    with pytest.raises(InvalidArgumentError, match="exactly one of query or filepath"):
        logic.add_sql_logic("c", query="select 3", filepath="x.sql")


@pytest.mark.parametrize(
    ("queries", "message"),
    [
        ({"a/b": "select 1"}, "not a valid file name"),
        ({"..": "select 1"}, "not a valid file name"),
        ({"": "select 1"}, "not a valid file name"),
        ({"a": "   "}, "must be a non-empty string"),
        ({"a": 3}, "must be a non-empty string"),
        ({"a": "missing.sql"}, "names the file 'missing.sql', which does not exist"),
    ],
    ids=["slash", "dots", "empty-name", "blank", "not-text", "missing-file"],
)
def test_bad_queries_are_rejected(queries: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        SqlLogic(queries)  # type: ignore[arg-type]


def test_unknown_query_name_lists_the_known_ones() -> None:
    with pytest.raises(InvalidArgumentError, match=r"no SQL query named 'c'; known: \['a'\]"):
        SqlLogic({"a": "select 1"})["c"]


def test_sql_data_saves_only_sql_files(tmp_path: Path, round_trip: RoundTrip) -> None:
    interface = SqlData(sql_logic=SqlLogic({"users": "select 1", "orders": "select 2"}))

    metadata = interface.save(tmp_path / "card")
    save_metadata = metadata.save_metadata

    files = sorted(p.relative_to(tmp_path / "card").as_posix() for p in tmp_path.rglob("*.*"))
    assert files == ["sql/orders.sql", "sql/users.sql"]
    assert (tmp_path / "card" / "sql" / "users.sql").read_text() == "select 1"
    assert save_metadata.data_uri == save_metadata.sql_uri == Path("sql")
    assert metadata.data_type is DataType.Sql
    assert metadata.interface_type == "SqlData"
    assert len(metadata.schema) == 0

    loaded = round_trip(interface)
    assert loaded.sql_logic.queries == {"orders": "select 2", "users": "select 1"}
    assert loaded.data is None


def test_sql_files_are_the_source_of_truth_on_load(tmp_path: Path) -> None:
    save_metadata = SqlData(sql_logic={"q": "select 1"}).save(tmp_path)
    (tmp_path / "sql" / "q.sql").write_text("select 42")

    loaded = SqlData()
    loaded.load(tmp_path, save_metadata)

    assert loaded.sql_logic["q"] == "select 42"


def test_sql_data_refuses_rows() -> None:
    with pytest.raises(InvalidArgumentError, match="SqlData holds SQL queries, not rows"):
        SqlData().data = [1, 2, 3]


def test_sql_data_without_queries_cannot_be_saved(tmp_path: Path) -> None:
    with pytest.raises(SerializationError, match="no SQL queries to save"):
        SqlData().save(tmp_path)


@pytest.mark.needs("numpy")
def test_every_data_interface_saves_its_sql_next_to_the_data(
    tmp_path: Path, round_trip: RoundTrip
) -> None:
    import numpy as np

    from opsml.data import NumpyData

    interface = NumpyData(data=np.arange(3), sql_logic={"source": "select x from t"})
    interface.add_sql_logic("extra", query="select 1")

    metadata = interface.save(tmp_path)

    assert metadata.save_metadata.sql_uri == Path("sql")
    assert (tmp_path / "sql" / "source.sql").read_text() == "select x from t"
    loaded = round_trip(interface)
    assert loaded.sql_logic.queries == {"source": "select x from t", "extra": "select 1"}


def test_a_sql_file_is_looked_up_by_name_under_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # OpsML 3 finds "test_sql.sql" wherever it lies below the working folder.
    (tmp_path / "tests" / "assets").mkdir(parents=True)
    (tmp_path / "tests" / "assets" / "orders.sql").write_text("SELECT id FROM orders")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "orders.sql").write_text("hidden folders are not searched")
    monkeypatch.chdir(tmp_path)

    logic = SqlLogic({"orders": "orders.sql"})
    logic.add_sql_logic("again", filepath="elsewhere/orders.sql")

    assert logic["orders"] == logic["again"] == "SELECT id FROM orders"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "orders.sql").write_text("SELECT 2")
    with pytest.raises(InvalidArgumentError, match=r"several files 'orders\.sql'"):
        SqlLogic({"orders": "orders.sql"})
