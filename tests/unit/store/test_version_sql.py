"""Version filters and order in SQL agree with the pure version engine, on every database.

The table's text columns are plain VARCHARs in the database's default collation (MariaDB's
folds case, PostgreSQL's is ICU ``en-US`` here): the conditions compare numbers and hex keys
only, so they must hold whatever the collation. The card tables' own exact types are tested
through the registry in ``test_exact_text.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    insert,
    select,
)

from opsml.store._version_sql import VersionColumns, version_filter, version_order
from opsml.version import MAX_NUMBER, Version, VersionQuery

V = Version.parse

numbers = st.integers(0, 3) | st.just(10) | st.just(MAX_NUMBER)
builds = st.lists(st.sampled_from(["b", "B", "1", "01", "10", "build"]), max_size=2).map(tuple)
versions = st.builds(
    Version,
    numbers,
    numbers,
    numbers,
    st.lists(st.sampled_from(["rc", "RC", "alpha", "a-b", 0, 1, 2, 10, 11]), max_size=3).map(tuple),
    builds,
)


def _with_builds(pairs: list[tuple[Version, list[tuple[str, ...]]]]) -> list[Version]:
    """Each version and some of its build variants (same precedence), without duplicates."""
    out = [Version(v.major, v.minor, v.patch, v.pre, b) for v, bs in pairs for b in (v.build, *bs)]
    return list(dict.fromkeys(out))


stored_versions = st.lists(st.tuples(versions, st.lists(builds, max_size=2)), max_size=15).map(
    _with_builds
)


def queries(pool: st.SearchStrategy[Version]) -> st.SearchStrategy[str]:
    """Queries built around versions drawn from ``pool`` (so bounds hit stored versions)."""

    def core(v: Version) -> str:
        return str(Version(v.major, v.minor, v.patch, v.pre))

    def prefix(v: Version, size: int, wildcard: str) -> str:
        return ".".join([str(v.major), str(v.minor)][:size] + ([wildcard] if wildcard else []))

    partials = st.builds(prefix, pool, st.integers(1, 2), st.sampled_from(["", "", "*", "x"]))
    ranged = st.tuples(
        st.sampled_from(["", "=", ">", ">=", "<", "<=", "^", "~"]), partials | pool.map(core)
    )
    exact = st.tuples(st.sampled_from(["", "=="]), pool.map(str))
    terms = (ranged | exact).map("".join)
    return st.lists(terms, min_size=1, max_size=3).flatmap(
        lambda ts: st.sampled_from([", ", " ", ","]).map(lambda sep: sep.join(ts))
    )


@st.composite
def stored_and_queries(draw: st.DrawFn) -> tuple[list[Version], list[str]]:
    """Stored versions, and queries around them."""
    stored = draw(stored_versions)
    pool = st.sampled_from(stored) if stored else versions
    return stored, draw(st.lists(queries(pool), min_size=1, max_size=6))


@pytest.fixture
def table(collated_db_url: str) -> Iterator[tuple[Engine, Table, VersionColumns]]:
    engine = create_engine(collated_db_url)
    metadata = MetaData()
    t = Table(
        "versions",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("version", String(100), nullable=False),
        Column("major", Integer, nullable=False),
        Column("minor", Integer, nullable=False),
        Column("patch", Integer, nullable=False),
        Column("pre_key", String(300), nullable=False),
        Column("build_key", String(300), nullable=False),
    )
    metadata.create_all(engine)
    columns = VersionColumns(
        major=t.c.major,
        minor=t.c.minor,
        patch=t.c.patch,
        pre_key=t.c.pre_key,
        build_key=t.c.build_key,
    )
    try:
        yield engine, t, columns
    finally:
        metadata.drop_all(engine)
        engine.dispose()


def _store(engine: Engine, t: Table, stored: list[Version]) -> None:
    with engine.begin() as conn:
        conn.execute(delete(t))
        if stored:
            conn.execute(
                insert(t),
                [
                    {
                        "version": str(v),
                        "major": v.major,
                        "minor": v.minor,
                        "patch": v.patch,
                        "pre_key": v.pre_key(),
                        "build_key": v.build_key(),
                    }
                    for v in stored
                ],
            )


def _select(engine: Engine, t: Table, columns: VersionColumns, query: str) -> set[Version]:
    with engine.connect() as conn:
        stmt = select(t.c.version).where(version_filter(VersionQuery.parse(query), columns))
        return {V(text) for text in conn.execute(stmt).scalars()}


def test_numbers_compare_as_numbers_not_text(
    table: tuple[Engine, Table, VersionColumns],
) -> None:
    engine, t, columns = table
    stored = ["1.2.0", "1.2.0+build.2", "1.2.10", "1.20.0", "11.2.0", "1.2.0-rc.2", "1.2.0-rc.10"]
    _store(engine, t, [V(s) for s in stored])
    cases = {
        "1.2": {"1.2.0", "1.2.0+build.2", "1.2.10"},
        "1": {"1.2.0", "1.2.0+build.2", "1.2.10", "1.20.0"},
        "^1.2": {"1.2.0", "1.2.0+build.2", "1.2.10", "1.20.0"},
        "~1.2.3": {"1.2.10"},
        ">=1.10": {"1.20.0", "11.2.0"},
        "<1.3": {"1.2.0", "1.2.0+build.2", "1.2.10"},
        "1.2.10": {"1.2.10"},
        "1.2.0-rc.2": {"1.2.0-rc.2"},
        ">=1.2.0-rc.2, <1.2.1": {"1.2.0-rc.2", "1.2.0-rc.10", "1.2.0", "1.2.0+build.2"},
        "1.2.0+build.2": {"1.2.0+build.2"},
        "=1.2.0": {"1.2.0", "1.2.0+build.2"},
        "*": set(stored),
    }
    for query, expected in cases.items():
        assert {str(v) for v in _select(engine, t, columns, query)} == expected, query


@settings(
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(stored_and_queries())
# Found on MariaDB (issue 15): build metadata differing only in case must not match.
@example(([V("10.10.10+b.B"), V("10.10.10+b.b")], ["==10.10.10+b.B", "10.10.10+b.b"]))
@example(([V("1.0.0-RC.1"), V("1.0.0-rc.1"), V("1.0.0")], [">1.0.0-RC.1", "<1.0.0-rc.1"]))
def test_sql_filter_equals_python_matches(
    table: tuple[Engine, Table, VersionColumns], case: tuple[list[Version], list[str]]
) -> None:
    engine, t, columns = table
    stored, texts = case
    _store(engine, t, stored)
    for text in texts:
        query = VersionQuery.parse(text)
        assert _select(engine, t, columns, text) == {v for v in stored if query.matches(v)}, text


@settings(
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(stored_versions)
@example([V(v) for v in ("1.0.0", "1.0.0-rc.1", "1.0.0-RC.1", "1.0.0+b.b", "1.0.0+b.B")])
def test_sql_order_equals_sort_key(
    table: tuple[Engine, Table, VersionColumns], stored: list[Version]
) -> None:
    engine, t, columns = table
    _store(engine, t, stored)
    with engine.connect() as conn:
        for descending in (True, False):
            stmt = select(t.c.version).order_by(*version_order(columns, descending=descending))
            ordered = [V(text) for text in conn.execute(stmt).scalars()]
            assert ordered == sorted(stored, key=Version.sort_key, reverse=descending)
