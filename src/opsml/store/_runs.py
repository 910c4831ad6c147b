"""The runs table behind the web UI: one row per registered experiment (status, start,
duration, user) and one summary row per run and metric name (latest, minimum, maximum,
count), both kept up to date as cards are registered, updated and deleted and as metric
points are logged.

A page of the runs table is one indexed statement whatever its sort: by start time or
duration on :data:`RUNS`, by a metric's latest/min/max value on :data:`METRIC_SUMMARY`
(space and experiment name are copied into both tables so every sort has an index that
starts with its filter). Pages continue from the last row of the previous one (keyset
pagination), so the 200th page costs the same as the first.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    DateTime,
    Float,
    Index,
    Integer,
    Select,
    Table,
    and_,
    cast,
    delete,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import SQLAlchemyError

from opsml.errors import InvalidArgumentError
from opsml.store._errors import store_error
from opsml.store._schema import (
    METADATA,
    NAME_LEN,
    UID_LEN,
    VERSION_LEN,
    ascii_string,
    card_table,
    exact_text,
)
from opsml.store._store import OK, SqlStore
from opsml.types import RegistryType

__all__ = [
    "METRIC_SUMMARY",
    "RUNS",
    "MetricSummary",
    "RunFilter",
    "RunRow",
    "RunsPage",
    "SortKey",
    "delete_run",
    "metric_names",
    "parse_run_filter",
    "record_run",
    "run_from_card_json",
    "runs_page",
    "summarize_metrics",
]

_DOUBLE = Float(precision=53).with_variant(mysql.DOUBLE(asdecimal=False), "mysql", "mariadb")
_ID = BigInteger().with_variant(Integer, "sqlite")
NO_DURATION = -1.0
"""The stored duration of a run that has not ended (it sorts after every real one)."""

RUNS = Table(
    "opsml_experiment_runs",
    METADATA,
    Column("experiment_uid", ascii_string(UID_LEN), primary_key=True),
    Column("space", ascii_string(NAME_LEN), nullable=False),
    Column("name", ascii_string(NAME_LEN), nullable=False),
    Column("version", ascii_string(VERSION_LEN), nullable=False),
    Column("run_status", ascii_string(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("duration", _DOUBLE, nullable=False),
    Column("username", exact_text(128), nullable=False),
    Index("ix_opsml_experiment_runs_space_start", "space", "started_at", "experiment_uid"),
    Index("ix_opsml_experiment_runs_space_dur", "space", "duration", "experiment_uid"),
    Index("ix_opsml_experiment_runs_name_start", "space", "name", "started_at", "experiment_uid"),
    Index("ix_opsml_experiment_runs_name_dur", "space", "name", "duration", "experiment_uid"),
    Index("ix_opsml_experiment_runs_start", "started_at", "experiment_uid"),
    Index("ix_opsml_experiment_runs_dur", "duration", "experiment_uid"),
)

METRIC_SUMMARY = Table(
    "opsml_experiment_metric_summary",
    METADATA,
    Column("experiment_uid", ascii_string(UID_LEN), primary_key=True),
    Column("metric", exact_text(255), primary_key=True),
    Column("space", ascii_string(NAME_LEN), nullable=False),
    Column("run_name", ascii_string(NAME_LEN), nullable=False),
    Column("latest", _DOUBLE, nullable=False),
    Column("latest_step", BigInteger, nullable=False),
    Column("latest_id", _ID, nullable=False),
    Column("min", _DOUBLE, nullable=False),
    Column("max", _DOUBLE, nullable=False),
    Column("count", BigInteger, nullable=False),
    *(
        Index(f"ix_opsml_metric_summary_space_{k}", "space", "metric", k, "experiment_uid")
        for k in ("latest", "min", "max")
    ),
    *(
        Index(f"ix_opsml_metric_summary_{k}", "metric", k, "experiment_uid")
        for k in ("latest", "min", "max")
    ),
)

# -- maintenance -----------------------------------------------------------------------------


def run_from_card_json(card_json: str, username: str | None = None) -> dict[str, Any]:
    """The :data:`RUNS` row of an experiment card (its stored JSON)."""
    card = json.loads(card_json)
    created = _parse_time(card.get("created_at")) or datetime.now(UTC)
    started = _parse_time(card.get("started_at"))
    ended = _parse_time(card.get("ended_at"))
    duration = (ended - started).total_seconds() if started and ended else NO_DURATION
    row: dict[str, Any] = {
        "experiment_uid": card["uid"],
        "space": card["space"],
        "name": card["name"],
        "version": card["version"],
        "run_status": str(card.get("status") or "created")[:16],
        "started_at": started or created,
        "ended_at": ended,
        "duration": max(duration, 0.0) if duration != NO_DURATION else NO_DURATION,
    }
    if username is not None:
        row["username"] = username[:128]
    return row


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def record_run(conn: Connection, row: dict[str, Any]) -> None:
    """Insert or update an experiment's run row (and the space and name copied into its
    metric summaries), inside the caller's transaction."""
    uid = row["experiment_uid"]
    values = {k: v for k, v in row.items() if k != "experiment_uid"}
    done = conn.execute(update(RUNS).where(RUNS.c.experiment_uid == uid).values(**values))
    if done.rowcount == 0:
        conn.execute(insert(RUNS).values(**{"username": "", **row}))
    conn.execute(
        update(METRIC_SUMMARY)
        .where(METRIC_SUMMARY.c.experiment_uid == uid)
        .where(
            or_(METRIC_SUMMARY.c.space != row["space"], METRIC_SUMMARY.c.run_name != row["name"])
        )
        .values(space=row["space"], run_name=row["name"])
    )


def delete_run(conn: Connection, experiment_uid: str) -> None:
    """Remove an experiment's run row and metric summaries (inside the caller's transaction)."""
    conn.execute(delete(RUNS).where(RUNS.c.experiment_uid == experiment_uid))
    conn.execute(delete(METRIC_SUMMARY).where(METRIC_SUMMARY.c.experiment_uid == experiment_uid))


def summarize_metrics(
    conn: Connection, experiment_uid: str, points: Iterable[tuple[int, str, float, int | None]]
) -> None:
    """Fold metric points ``(id, name, value, step)`` of ``experiment_uid`` into its summary
    rows, inside the caller's transaction.

    The latest value is the one at the highest step (points without a step count as step
    -1); among equal steps, the last logged (highest id).
    """
    groups: dict[str, list[tuple[int, int, float]]] = {}
    for point_id, name, value, step in points:
        groups.setdefault(name, []).append(
            (-1 if step is None else int(step), int(point_id), float(value))
        )
    if not groups:
        return
    fresh: dict[str, dict[str, Any]] = {}
    for name, items in groups.items():
        step, point_id, value = max(items)
        values = [item[2] for item in items]
        fresh[name] = {
            "latest": value,
            "latest_step": step,
            "latest_id": point_id,
            "min": min(values),
            "max": max(values),
            "count": len(items),
        }
    table = card_table(RegistryType.Experiment)
    where = conn.execute(
        select(table.c.space, table.c.name).where(table.c.uid == experiment_uid)
    ).first()
    if where is None:
        return
    existing = {
        row.metric: row
        for row in conn.execute(
            select(METRIC_SUMMARY)
            .where(
                METRIC_SUMMARY.c.experiment_uid == experiment_uid,
                METRIC_SUMMARY.c.metric.in_(list(fresh)),
            )
            .with_for_update()
        )
    }
    created = [
        {
            "experiment_uid": experiment_uid,
            "metric": name,
            "space": where.space,
            "run_name": where.name,
            **new,
        }
        for name, new in fresh.items()
        if name not in existing
    ]
    if created:
        conn.execute(insert(METRIC_SUMMARY), created)
    for name, new in fresh.items():
        old = existing.get(name)
        if old is None:
            continue
        merged = {
            "latest": old.latest,
            "latest_step": old.latest_step,
            "latest_id": old.latest_id,
            "min": old.min,
            "max": old.max,
            "count": old._mapping["count"],
        }
        summary = {name: merged}
        _fold(summary, name, new["latest"], new["latest_step"], new["latest_id"], new["count"])
        merged["min"] = min(merged["min"], new["min"])
        merged["max"] = max(merged["max"], new["max"])
        conn.execute(
            update(METRIC_SUMMARY)
            .where(
                METRIC_SUMMARY.c.experiment_uid == experiment_uid,
                METRIC_SUMMARY.c.metric == name,
            )
            .values(**merged)
        )


def _fold(
    into: dict[str, dict[str, Any]], name: str, value: float, step: int, point_id: int, count: int
) -> None:
    """Add points to a summary: ``value`` at ``(step, point_id)`` and ``count`` points."""
    summary = into.get(name)
    if summary is None:
        into[name] = {
            "latest": value,
            "latest_step": step,
            "latest_id": point_id,
            "min": value,
            "max": value,
            "count": count,
        }
        return
    if (step, point_id) >= (summary["latest_step"], summary["latest_id"]):
        summary.update(latest=value, latest_step=step, latest_id=point_id)
    summary["min"] = min(summary["min"], value)
    summary["max"] = max(summary["max"], value)
    summary["count"] += count


# -- queries ---------------------------------------------------------------------------------

Stat = Literal["latest", "min", "max"]
STATS: tuple[Stat, ...] = ("latest", "min", "max")
RUN_SORTS = ("started", "duration")


@dataclass(frozen=True)
class SortKey:
    """What the runs table is ordered by: a run column (``started``, ``duration``) or a
    metric's ``latest``/``min``/``max``; descending unless ``ascending``."""

    column: str = "started"
    metric: str | None = None
    ascending: bool = False

    @classmethod
    def parse(cls, value: str, order: str = "desc") -> SortKey:
        """``started``, ``duration`` or ``metric:<name>[:latest|min|max]``.

        Raises:
            InvalidArgumentError: Anything else.
        """
        if order not in ("asc", "desc"):
            raise InvalidArgumentError(f"order must be asc or desc, got {order!r}")
        ascending = order == "asc"
        value = value.strip() or "started"
        if value in RUN_SORTS:
            return cls(value, None, ascending)
        if value.startswith("metric:"):
            rest = value[len("metric:") :]
            name, _, stat = rest.rpartition(":")
            if stat not in STATS or not name:
                name, stat = rest, "latest"
            if not name or len(name) > 255:
                raise InvalidArgumentError(f"not a metric name: {name!r}")
            return cls(stat, name, ascending)
        raise InvalidArgumentError(
            f"sort must be started, duration or metric:<name>[:latest|min|max], got {value!r}"
        )

    @property
    def token(self) -> str:
        """The URL form (``metric:loss:min``)."""
        return self.column if self.metric is None else f"metric:{self.metric}:{self.column}"


_CLAUSE = re.compile(
    r"^\s*(?:(?P<kind>metrics|metric|params|param|parameters)\.(?P<name>[^\s<>=!]+)|"
    r"(?P<field>status|user))\s*(?P<op><=|>=|!=|=|<|>)\s*(?P<value>.+?)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Condition:
    """One clause of a runs filter: ``metrics.<name> <op> <number>``,
    ``params.<name> <op> <value>``, ``status = <status>`` or ``user = <name>``."""

    kind: str  # "metric", "param", "status", "user"
    name: str
    op: str
    value: str | float


@dataclass(frozen=True)
class RunFilter:
    """Clauses that every listed run must satisfy (joined by ``and``)."""

    conditions: tuple[Condition, ...] = ()


def parse_run_filter(text: str) -> RunFilter:
    """Parse ``metrics.accuracy > 0.9 and params.optimizer = adam and status = failed``.

    Metric clauses compare the metric's latest value with a number. Parameter clauses
    compare as numbers when both sides are numbers, else as text (``=``/``!=`` only).
    Values may be quoted (``'adam'``).

    Raises:
        InvalidArgumentError: A clause that is none of these.
    """
    conditions = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE) if text.strip() else []:
        match = _CLAUSE.match(part)
        if match is None:
            raise InvalidArgumentError(
                f"cannot read filter clause {part!r}: write metrics.<name> > 0.9, "
                "params.<name> = value, status = failed or user = <name>, joined by 'and'"
            )
        op, raw = match["op"], match["value"].strip()
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
            raw = raw[1:-1]
        kind = (match["kind"] or match["field"]).lower()
        kind = {"metrics": "metric", "params": "param", "parameters": "param"}.get(kind, kind)
        name = match["name"] or kind
        if kind == "metric":
            conditions.append(Condition(kind, name, op, _number(raw, part)))
        elif kind == "param":
            number = _maybe_number(raw)
            if number is None and op not in ("=", "!="):
                raise InvalidArgumentError(f"{part!r}: only = and != compare text parameters")
            conditions.append(Condition(kind, name, op, raw if number is None else number))
        else:
            if op not in ("=", "!="):
                raise InvalidArgumentError(f"{part!r}: {kind} takes = or !=")
            conditions.append(Condition(kind, kind, op, raw))
    return RunFilter(tuple(conditions))


def _maybe_number(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _number(raw: str, clause: str) -> float:
    value = _maybe_number(raw)
    if value is None:
        raise InvalidArgumentError(f"{clause!r}: a metric is compared with a number")
    return value


@dataclass(frozen=True)
class MetricSummary:
    """A run's metric: the value at its last step, its minimum, maximum and point count."""

    latest: float
    min: float
    max: float
    count: int


@dataclass
class RunRow:
    """One run of the runs table, with its chosen metric and parameter columns."""

    uid: str
    space: str
    name: str
    version: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    duration: float | None
    user: str
    metrics: dict[str, MetricSummary] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunsPage:
    """One page of runs and the cursor of the next (``None`` on the last page)."""

    runs: list[RunRow]
    next_cursor: str | None


def _ops(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    result: ColumnElement[bool] = {
        "=": column == value,
        "!=": column != value,
        "<": column < value,
        "<=": column <= value,
        ">": column > value,
        ">=": column >= value,
    }[op]
    return result


def _condition(condition: Condition, uid_column: Any) -> ColumnElement[bool]:
    from opsml.store._experiment import PARAMETERS

    if condition.kind == "status":
        return _ops(RUNS.c.run_status, condition.op, str(condition.value))
    if condition.kind == "user":
        return _ops(RUNS.c.username, condition.op, str(condition.value))
    if condition.kind == "metric":
        return exists().where(
            METRIC_SUMMARY.c.experiment_uid == uid_column,
            METRIC_SUMMARY.c.metric == condition.name,
            _ops(METRIC_SUMMARY.c.latest, condition.op, condition.value),
        )
    base = [PARAMETERS.c.experiment_uid == uid_column, PARAMETERS.c.name == condition.name]
    value = condition.value
    if isinstance(value, float):
        # Stored as JSON: a number is its own text; compare numerically (strings never
        # match: a JSON string starts with a quote).
        numeric = and_(
            ~PARAMETERS.c.value.startswith('"'),
            _ops(cast(PARAMETERS.c.value, _DOUBLE), condition.op, value),
        )
        if condition.op == "!=":
            return ~exists().where(*base, ~numeric)
        return exists().where(*base, numeric)
    texts = [json.dumps(value)]
    if value in ("true", "false", "null"):
        texts.append(value)
    matched = exists().where(*base, PARAMETERS.c.value.in_(texts))
    return ~matched if condition.op == "!=" else matched


def _encode_cursor(value: Any, uid: str) -> str:
    if isinstance(value, datetime):
        payload: list[Any] = ["t", _utc(value).isoformat(), uid]
    else:
        payload = ["f", float(value), uid]
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, value, uid = json.loads(raw)
        if kind == "t":
            return datetime.fromisoformat(value), str(uid)
        if kind == "f" and isinstance(value, int | float):
            return float(value), str(uid)
    except (ValueError, TypeError):
        pass
    raise InvalidArgumentError("the page cursor is not one this table made: start again")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def runs_page(
    store: SqlStore,
    *,
    space: str | None,
    name: str | None,
    spaces: Collection[str] | None,
    sort: SortKey,
    run_filter: RunFilter = RunFilter(),
    metrics: Sequence[str] = (),
    params: Sequence[str] = (),
    after: str | None = None,
    limit: int = 50,
) -> RunsPage:
    """One page of the runs table.

    Args:
        store: The metadata store.
        space: Only runs of this space (``None``: every space in ``spaces``).
        name: Only runs of this experiment name.
        spaces: The spaces the caller may read (``None``: any).
        sort: The order; sorting by a metric lists only the runs that logged it.
        run_filter: Conditions on status, user, metrics and parameters.
        metrics: Metric columns to fill in for each run.
        params: Parameter columns to fill in for each run.
        after: The cursor of the previous page (``None``: the first page).
        limit: Runs per page.

    Raises:
        InvalidArgumentError: A cursor this function did not make.
        MetadataStoreError: The database failed.
    """
    if spaces is not None and (not spaces or (space is not None and space not in spaces)):
        return RunsPage([], None)
    if sort.metric is None:
        key = RUNS.c.started_at if sort.column == "started" else RUNS.c.duration
        uid_column = RUNS.c.experiment_uid
        stmt: Select[Any] = select(RUNS, key.label("sort_value"))
        scope = RUNS.c
        scope_name = RUNS.c.name
    else:
        key = METRIC_SUMMARY.c[sort.column]
        uid_column = METRIC_SUMMARY.c.experiment_uid
        stmt = (
            select(RUNS, key.label("sort_value"))
            .select_from(METRIC_SUMMARY)
            .join(RUNS, RUNS.c.experiment_uid == METRIC_SUMMARY.c.experiment_uid)
            .where(METRIC_SUMMARY.c.metric == sort.metric)
        )
        scope = METRIC_SUMMARY.c
        scope_name = METRIC_SUMMARY.c.run_name
    if name is not None:
        stmt = stmt.where(scope_name == name)
    if space is not None:
        stmt = stmt.where(scope.space == space)
    elif spaces is not None:
        stmt = stmt.where(scope.space.in_(sorted(spaces)))
    for condition in run_filter.conditions:
        stmt = stmt.where(_condition(condition, uid_column))
    if after is not None:
        value, last_uid = _decode_cursor(after)
        if isinstance(value, datetime) != (sort.metric is None and sort.column == "started"):
            raise InvalidArgumentError("the page cursor belongs to another sort: start again")
        if sort.ascending:
            stmt = stmt.where(or_(key > value, and_(key == value, uid_column > last_uid)))
        else:
            stmt = stmt.where(or_(key < value, and_(key == value, uid_column < last_uid)))
    if sort.ascending:
        stmt = stmt.order_by(key.asc(), uid_column.asc())
    else:
        stmt = stmt.order_by(key.desc(), uid_column.desc())
    stmt = stmt.limit(limit + 1)
    try:
        with store._read() as conn:
            rows = list(conn.execute(stmt))
            more = len(rows) > limit
            rows = rows[:limit]
            runs = [_run(row) for row in rows]
            _fill_columns(conn, runs, metrics, params)
    except SQLAlchemyError as exc:
        raise store_error("listing experiment runs", exc) from exc
    cursor = _encode_cursor(rows[-1].sort_value, rows[-1].experiment_uid) if more else None
    return RunsPage(runs, cursor)


def _run(row: Any) -> RunRow:
    return RunRow(
        uid=row.experiment_uid,
        space=row.space,
        name=row.name,
        version=row.version,
        status=row.run_status,
        started_at=_utc(row.started_at),
        ended_at=_utc(row.ended_at) if row.ended_at is not None else None,
        duration=None if row.duration < 0 else float(row.duration),
        user=row.username,
    )


def _fill_columns(
    conn: Connection, runs: list[RunRow], metrics: Sequence[str], params: Sequence[str]
) -> None:
    from opsml.store._experiment import PARAMETERS

    by_uid = {run.uid: run for run in runs}
    if not by_uid:
        return
    if metrics:
        stmt = select(
            METRIC_SUMMARY.c.experiment_uid,
            METRIC_SUMMARY.c.metric,
            METRIC_SUMMARY.c.latest,
            METRIC_SUMMARY.c.min,
            METRIC_SUMMARY.c.max,
            METRIC_SUMMARY.c.count,
        ).where(
            METRIC_SUMMARY.c.experiment_uid.in_(list(by_uid)),
            METRIC_SUMMARY.c.metric.in_(list(metrics)),
        )
        for uid, metric, latest, low, high, count in conn.execute(stmt):
            by_uid[uid].metrics[metric] = MetricSummary(latest, low, high, int(count))
    if params:
        stmt = select(PARAMETERS).where(
            PARAMETERS.c.experiment_uid.in_(list(by_uid)), PARAMETERS.c.name.in_(list(params))
        )
        for row in conn.execute(stmt):
            by_uid[row.experiment_uid].params[row.name] = json.loads(row.value)


def run_summaries(
    store: SqlStore, uids: Iterable[str]
) -> tuple[dict[str, RunRow], dict[str, dict[str, MetricSummary]]]:
    """Run rows and every metric summary of the given runs (for comparisons).

    Raises:
        MetadataStoreError: The database failed.
    """
    wanted = list(dict.fromkeys(uids))
    if not wanted:
        return {}, {}
    try:
        with store._read() as conn:
            runs = {
                row.experiment_uid: _run(row)
                for row in conn.execute(select(RUNS).where(RUNS.c.experiment_uid.in_(wanted)))
            }
            summaries: dict[str, dict[str, MetricSummary]] = {uid: {} for uid in wanted}
            for row in conn.execute(
                select(METRIC_SUMMARY).where(METRIC_SUMMARY.c.experiment_uid.in_(wanted))
            ):
                summaries[row.experiment_uid][row.metric] = MetricSummary(
                    row.latest, row.min, row.max, int(row._mapping["count"])
                )
    except SQLAlchemyError as exc:
        raise store_error("reading experiment runs", exc) from exc
    return runs, summaries


def metric_names(
    store: SqlStore, space: str | None, spaces: Collection[str] | None, limit: int = 200
) -> list[str]:
    """Distinct metric names logged by runs of ``space`` (or of the readable ``spaces``),
    in byte order, at most ``limit``.

    A loose index scan: one index seek per name, so the cost follows the number of names,
    not the number of runs.

    Raises:
        MetadataStoreError: The database failed.
    """
    if spaces is not None and (not spaces or (space is not None and space not in spaces)):
        return []
    found: list[str] = []
    scopes: list[str | None] = (
        [space] if space is not None else [*sorted(spaces)] if spaces is not None else [None]
    )
    try:
        with store._read() as conn:
            for scope in scopes:
                current: str | None = None
                for _ in range(limit):
                    stmt = select(METRIC_SUMMARY.c.metric)
                    if scope is not None:
                        stmt = stmt.where(METRIC_SUMMARY.c.space == scope)
                    if current is not None:
                        stmt = stmt.where(METRIC_SUMMARY.c.metric > current)
                    current = conn.execute(stmt.order_by(METRIC_SUMMARY.c.metric).limit(1)).scalar()
                    if current is None:
                        break
                    found.append(current)
    except SQLAlchemyError as exc:
        raise store_error("listing metric names", exc) from exc
    return sorted(set(found))[:limit]


def backfill(conn: Connection) -> None:
    """Fill :data:`RUNS` and :data:`METRIC_SUMMARY` from the experiment cards and metric
    points already stored (the migration that creates the tables runs this)."""
    from opsml.store._experiment import METRICS

    table = card_table(RegistryType.Experiment)
    cards = conn.execute(select(table.c.card_json).where(table.c.status == OK)).all()
    for (card_json,) in cards:
        row = run_from_card_json(card_json, "")
        conn.execute(insert(RUNS).values(**row))
        uid = row["experiment_uid"]
        points = conn.execute(
            select(METRICS.c.id, METRICS.c.name, METRICS.c.value, METRICS.c.step)
            .where(METRICS.c.experiment_uid == uid)
            .order_by(METRICS.c.id)
        )
        summarize_metrics(conn, uid, list(points))
