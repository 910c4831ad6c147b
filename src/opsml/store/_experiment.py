"""Experiment metrics, parameters and hardware samples in SQL, written in batches."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    Row,
    Table,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import SQLAlchemyError

from opsml.store._errors import store_error
from opsml.store._runs import delete_run, summarize_metrics
from opsml.store._schema import (
    METADATA,
    UID_LEN,
    ascii_string,
    card_table,
    exact_text,
    long_text,
)
from opsml.store._store import SqlStore
from opsml.types import RegistryType

__all__ = ["HARDWARE", "METRICS", "PARAMETERS", "ExperimentStore"]

_ID = BigInteger().with_variant(Integer, "sqlite")
_DOUBLE = Float(precision=53).with_variant(mysql.DOUBLE(asdecimal=False), "mysql", "mariadb")


METRICS = Table(
    "opsml_experiment_metrics",
    METADATA,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("experiment_uid", ascii_string(UID_LEN), nullable=False),
    Column("name", exact_text(255), nullable=False),
    Column("value", _DOUBLE, nullable=False),
    Column("step", BigInteger, nullable=True),
    Column("timestamp", BigInteger, nullable=False),
    Column("is_eval", Boolean, nullable=False),
    Index("ix_opsml_experiment_metrics_uid", "experiment_uid", "id"),
)

PARAMETERS = Table(
    "opsml_experiment_parameters",
    METADATA,
    Column("experiment_uid", ascii_string(UID_LEN), primary_key=True),
    Column("name", exact_text(255), primary_key=True),
    Column("value", long_text(), nullable=False),
)

HARDWARE = Table(
    "opsml_experiment_hardware",
    METADATA,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("experiment_uid", ascii_string(UID_LEN), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sample", long_text(), nullable=False),
    Index("ix_opsml_experiment_hardware_uid", "experiment_uid", "id"),
)


_METRIC_FIELDS = ("experiment_uid", "name", "value", "step", "timestamp", "is_eval")


@functools.cache
def _sqlite_insert_metrics() -> str:
    """METRICS' ``INSERT`` as SQLite's driver takes it, parameters in ``_METRIC_FIELDS``
    order (compiled from the table once, so it follows the schema)."""
    from sqlalchemy.dialects import sqlite

    compiled = insert(METRICS).compile(dialect=sqlite.dialect(), column_keys=_METRIC_FIELDS)
    assert tuple(compiled.positiontup or ()) == _METRIC_FIELDS, compiled.positiontup
    return str(compiled)


class ExperimentStore:
    """Batch inserts and reads of an experiment's tracking data."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def add_metrics(self, experiment_uid: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert metric points (``name``, ``value``, ``step``, ``timestamp``, ``is_eval``)
        in one transaction."""
        if not rows:
            return
        values = [{**row, "experiment_uid": experiment_uid} for row in rows]

        def run(conn: Any) -> None:
            # Writers of one run take turns (its card row locked first, on PostgreSQL and
            # MariaDB; SQLite has one writer at a time): two processes logging to one run
            # would otherwise both create its summary row, and interleave their ids.
            runs = card_table(RegistryType.Experiment)
            conn.execute(select(runs.c.uid).where(runs.c.uid == experiment_uid).with_for_update())
            if conn.dialect.name == "sqlite":
                # SQLite takes these values as they are: straight to the driver's executemany
                # (3-4 times faster than SQLAlchemy's per-row parameter processing).
                conn.exec_driver_sql(
                    _sqlite_insert_metrics(),
                    [
                        (
                            experiment_uid,
                            str(v["name"]),
                            float(v["value"]),
                            None if v.get("step") is None else int(v["step"]),
                            int(v["timestamp"]),
                            bool(v["is_eval"]),
                        )
                        for v in values
                    ],
                )
            else:
                conn.execute(insert(METRICS), values)
            # The ids the batch got end at the run's highest id (its writers take turns);
            # the summary needs only their order.
            last = conn.execute(
                select(func.max(METRICS.c.id)).where(METRICS.c.experiment_uid == experiment_uid)
            ).scalar_one()
            first = int(last) - len(values) + 1
            summarize_metrics(
                conn,
                experiment_uid,
                ((first + i, v["name"], v["value"], v.get("step")) for i, v in enumerate(values)),
            )

        self._store._retrying(run, "logging metrics")

    def set_parameters(self, experiment_uid: str, params: dict[str, Any]) -> None:
        """Insert or replace parameters (values stored as JSON, types kept)."""
        if not params:
            return

        def run(conn: Any) -> None:
            conn.execute(
                delete(PARAMETERS).where(
                    PARAMETERS.c.experiment_uid == experiment_uid,
                    PARAMETERS.c.name.in_(list(params)),
                )
            )
            conn.execute(
                insert(PARAMETERS),
                [
                    {"experiment_uid": experiment_uid, "name": k, "value": json.dumps(v)}
                    for k, v in params.items()
                ],
            )

        self._store._retrying(run, "logging parameters")

    def add_hardware(self, experiment_uid: str, samples: Sequence[dict[str, Any]]) -> None:
        """Insert hardware samples (each a JSON-able dict with ``created_at``)."""
        if samples:
            values = [
                {
                    "experiment_uid": experiment_uid,
                    "created_at": datetime.fromisoformat(str(s["created_at"])),
                    "sample": json.dumps(s, default=str),
                }
                for s in samples
            ]
            self._store._retrying(
                lambda c: c.execute(insert(HARDWARE), values), "logging hardware metrics"
            )

    def _rows(self, stmt: Any, what: str) -> list[Row[Any]]:
        try:
            with self._store._read() as conn:
                return list(conn.execute(stmt))
        except SQLAlchemyError as exc:
            raise store_error(f"reading {what}", exc) from exc

    def metrics(self, experiment_uid: str, names: Sequence[str] | None = None) -> list[Row[Any]]:
        """Metric rows in logging order."""
        stmt = select(METRICS).where(METRICS.c.experiment_uid == experiment_uid)
        if names:
            stmt = stmt.where(METRICS.c.name.in_(list(names)))
        return self._rows(stmt.order_by(METRICS.c.id), "metrics")

    def parameters(self, experiment_uid: str, names: Sequence[str] | None = None) -> dict[str, Any]:
        """``{name: value}`` in name order."""
        stmt = select(PARAMETERS).where(PARAMETERS.c.experiment_uid == experiment_uid)
        if names:
            stmt = stmt.where(PARAMETERS.c.name.in_(list(names)))
        rows = self._rows(stmt.order_by(PARAMETERS.c.name), "parameters")
        return {row.name: json.loads(row.value) for row in rows}

    def hardware(self, experiment_uid: str) -> list[dict[str, Any]]:
        """Hardware samples in time order."""
        stmt = (
            select(HARDWARE.c.sample)
            .where(HARDWARE.c.experiment_uid == experiment_uid)
            .order_by(HARDWARE.c.id)
        )
        return [json.loads(row.sample) for row in self._rows(stmt, "hardware metrics")]

    def delete(self, experiment_uid: str) -> None:
        """Remove everything tracked for an experiment (when its card is deleted)."""

        def run(conn: Any) -> None:
            for table in (METRICS, PARAMETERS, HARDWARE):
                conn.execute(delete(table).where(table.c.experiment_uid == experiment_uid))
            delete_run(conn, experiment_uid)

        self._store._retrying(run, "deleting experiment tracking data")


def utc(value: datetime) -> datetime:
    """A datetime from the database as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
