"""Version queries and version order as SQLAlchemy Core expressions.

A version is stored as numeric ``major``, ``minor``, ``patch`` columns plus the order keys of
:class:`opsml.version.Version` (``pre_key``, ``build_key``: lowercase hex whose string order
is SemVer order). Every comparator of a query becomes an exact tuple comparison on
``(major, minor, patch, pre_key)``, written with ``AND``/``OR`` only, so the same SQL runs on
SQLite, PostgreSQL and MySQL/MariaDB and no string prefix ever decides what matches.

Only numbers and the hex keys are compared, never the prerelease or build text: ``RC`` and
``rc``, ``b.B`` and ``b.b`` have different keys, so a case-folding collation cannot merge
them (the card tables compare their text columns byte for byte as well).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, UnaryExpression, and_, or_, true

from opsml.version import FINAL_PRE_KEY, Comparator, VersionQuery

__all__ = ["VersionColumns", "version_filter", "version_order"]


@dataclass(frozen=True)
class VersionColumns:
    """The columns of a table that hold a version.

    Attributes:
        major: Integer ``Version.major``.
        minor: Integer ``Version.minor``.
        patch: Integer ``Version.patch``.
        pre_key: String ``Version.pre_key()`` (``"ff"`` for a final release).
        build_key: String ``Version.build_key()`` (``""`` without build metadata; one key
            per distinct build, so it also serves exact matches).
    """

    major: ColumnElement[int]
    minor: ColumnElement[int]
    patch: ColumnElement[int]
    pre_key: ColumnElement[str]
    build_key: ColumnElement[str]


def version_filter(query: VersionQuery, columns: VersionColumns) -> ColumnElement[bool]:
    """The ``WHERE`` condition selecting exactly the versions ``query.matches``.

    Args:
        query: A parsed version query.
        columns: Where the table keeps its version.

    Returns:
        A boolean SQL expression (``true()`` for a query without constraint).
    """
    conditions = [_comparator(comparator, columns) for comparator in query.comparators]
    if not query.includes_prerelease:
        conditions.append(columns.pre_key == FINAL_PRE_KEY)
    return and_(true(), *conditions)


def version_order(columns: VersionColumns, descending: bool = True) -> list[UnaryExpression[Any]]:
    """The ``ORDER BY`` list for SemVer precedence, ties broken by build metadata.

    Sorting rows by it gives the order of ``Version.sort_key()``.

    Args:
        columns: Where the table keeps its version.
        descending: Highest version first (the default) or lowest first.

    Returns:
        Order expressions on major, minor, patch, pre_key and build_key.
    """
    keys: tuple[ColumnElement[Any], ...] = (
        columns.major,
        columns.minor,
        columns.patch,
        columns.pre_key,
        columns.build_key,
    )
    return [key.desc() if descending else key.asc() for key in keys]


def _comparator(comparator: Comparator, columns: VersionColumns) -> ColumnElement[bool]:
    version = comparator.version
    pairs: list[tuple[ColumnElement[Any], Any]] = [
        (columns.major, version.major),
        (columns.minor, version.minor),
        (columns.patch, version.patch),
        (columns.pre_key, version.pre_key()),
    ]
    op = comparator.op
    if op == "==":
        equal = [column == value for column, value in pairs]
        if version.build:
            equal.append(columns.build_key == version.build_key())
        return and_(*equal)
    # (a, b, c, d) > (w, x, y, z)  <=>  a > w OR (a = w AND (b > x OR (b = x AND ...))),
    # the innermost comparison deciding between strict and inclusive.
    greater = op in (">", ">=")
    column, value = pairs[-1]
    condition: ColumnElement[bool] = {
        ">": column > value,
        ">=": column >= value,
        "<": column < value,
        "<=": column <= value,
    }[op]
    for column, value in reversed(pairs[:-1]):
        beyond = column > value if greater else column < value
        condition = or_(beyond, and_(column == value, condition))
    return condition
