"""Card records in SQL: reservation with database-enforced unique versions, queries, updates."""

from __future__ import annotations

import functools
import json
import random
import time
import weakref
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Select,
    and_,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from opsml.errors import (
    CardNotFoundError,
    CardStateError,
    InvalidArgumentError,
    MetadataStoreError,
    VersionConflictError,
)
from opsml.store._engine import SchemaState, open_engine, read_schema_state
from opsml.store._errors import store_error
from opsml.store._loop_reads import LoopReads
from opsml.store._outbox import Event, enqueue
from opsml.store._prepared import PreparedReads, Record
from opsml.store._schema import ALIASES, TAGS, card_table
from opsml.store._tags import indexed_tags
from opsml.store._version_sql import VersionColumns, version_filter, version_order
from opsml.types import RegistryType
from opsml.version import Version, VersionQuery

__all__ = ["CardQuery", "SqlStore", "PENDING", "OK"]

PENDING = "pending"
OK = "ok"

_MAX_ATTEMPTS = 60


@dataclass(frozen=True)
class CardQuery:
    """Filters of ``list_cards`` / ``load_card``; ``None`` means "any"."""

    uid: str | None = None
    space: str | None = None
    name: str | None = None
    version: VersionQuery | None = None
    max_date: date | None = None
    tags: tuple[str, ...] = ()
    sort_by_timestamp: bool = False
    limit: int | None = 25
    latest_first: bool = False
    spaces: tuple[str, ...] | None = None  # only these spaces (what the caller may read)
    alias: str | None = None  # only the card this alias points at (``version="@prod"``)


@functools.lru_cache(maxsize=512)
def _version_condition(registry: RegistryType, version: VersionQuery) -> ColumnElement[bool]:
    """The ``WHERE`` condition of a version query on one registry's table, built once per
    (registry, query): building the comparisons costs more than running the query, and SQL
    expressions are immutable, so they are shared between statements."""
    return version_filter(version, _columns(registry))


def _columns(registry: RegistryType) -> VersionColumns:
    t = card_table(registry)
    return VersionColumns(
        major=t.c.major,
        minor=t.c.minor,
        patch=t.c.patch,
        pre_key=t.c.pre_key,
        build_key=t.c.build_key,
    )


def _is_transient(exc: DBAPIError) -> bool:
    """Lock timeouts, deadlocks and serialization failures worth retrying."""
    message = str(exc.orig).lower()
    return any(
        marker in message
        for marker in ("database is locked", "deadlock", "lock wait timeout", "could not serialize")
    )


class SqlStore:
    """All SQL the registry needs, for SQLite, PostgreSQL and MySQL/MariaDB alike.

    Args:
        engine: The engine to run on; the store owns it (:meth:`close` disposes of it).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._prepared = PreparedReads(engine)

    @classmethod
    def from_url(cls, url: str, *, migrate: bool = True) -> SqlStore:
        """Open (and migrate if needed) the store at a SQLAlchemy URL, on an engine of its
        own, closed by :meth:`close` or when the store is garbage collected.

        Args:
            url: The database URL.
            migrate: Bring a schema that is behind to the newest migration (else refuse it
                with :class:`~opsml.errors.SchemaVersionError`).

        Raises:
            MissingDependencyError: The database driver's extra is not installed.
            MetadataStoreError: The database cannot be reached or migrated.
        """
        store = cls(open_engine(url, migrate=migrate))
        weakref.finalize(store, store.engine.dispose)
        return store

    def schema_state(self) -> SchemaState:
        """Where the database's schema stands now (one read; a server's readiness probe).

        Raises:
            MetadataStoreError: The database cannot be reached.
        """
        return read_schema_state(self.engine)

    def close(self) -> None:
        """Close the store's pooled connections (it opens new ones if used again)."""
        self.engine.dispose()

    def _write(self) -> Connection:
        return self.engine.connect().execution_options(sqlite_immediate=True)

    def _read(self) -> Connection:
        return self.engine.connect().execution_options(sqlite_read=True)

    # -- registration ---------------------------------------------------------------------

    def reserve(
        self,
        registry: RegistryType,
        space: str,
        name: str,
        allocate: Callable[[list[Version]], Version],
        row: Callable[[Version], dict[str, Any]],
        tags: Sequence[str],
        *,
        explicit: bool,
    ) -> Version:
        """Allocate a version and insert the card record in state ``pending``.

        The uniqueness of (space, name, version) is enforced by the database. When two
        writers race for the same version, the loser re-reads and allocates again (bounded).

        Args:
            registry: The card's registry.
            space: Card space.
            name: Card name.
            allocate: Given every existing version of (space, name), returns the new one.
            row: Given the allocated version, the other column values of the record.
            tags: The card's tags.
            explicit: The version was given in full by the user: a conflict is an error,
                never a retry.

        Returns:
            The reserved version.

        Raises:
            VersionConflictError: An explicit version exists.
            MetadataStoreError: The database failed or the retries ran out.
        """
        table = card_table(registry)
        last_error: Exception | None = None
        version: Version | None = None
        for attempt in range(_MAX_ATTEMPTS):
            try:
                with self._write() as conn, conn.begin():
                    existing = [
                        Version.parse(v)
                        for (v,) in conn.execute(
                            select(table.c.version).where(
                                table.c.space == space, table.c.name == name
                            )
                        )
                    ]
                    version = allocate(existing)
                    values = {
                        **row(version),
                        **_version_values(version),
                        "space": space,
                        "name": name,
                    }
                    conn.execute(insert(table).values(**values))
                    if tags:
                        conn.execute(
                            insert(TAGS),
                            [
                                {"registry": registry.value, "uid": values["uid"], "tag": tag}
                                for tag in indexed_tags(tags)
                            ],
                        )
                return version
            except IntegrityError as exc:
                if explicit:
                    raise VersionConflictError(
                        f"{space}/{name} version {version} is already registered"
                    ) from exc
                last_error = exc
            except OperationalError as exc:
                if not _is_transient(exc):
                    raise store_error(f"registering {space}/{name}", exc) from exc
                last_error = exc
            except SQLAlchemyError as exc:
                raise store_error(f"registering {space}/{name}", exc) from exc
            time.sleep(random.uniform(0.001, 0.004) * min(attempt + 1, 20))
        raise MetadataStoreError(
            f"could not allocate a version for {space}/{name} after {_MAX_ATTEMPTS} attempts"
        ) from last_error

    def finalize(
        self,
        registry: RegistryType,
        uid: str,
        values: dict[str, Any],
        also: Callable[[Connection], None] | None = None,
        events: Sequence[Event] = (),
    ) -> None:
        """Mark a pending record ``ok`` (with ``values`` for other columns). In the same
        transaction, ``also`` writes derived rows that must appear with the card, and the
        webhook deliveries of ``events`` are queued.

        Raises:
            CardStateError: No pending record ``uid`` (withdrawn, or removed by ``opsml gc``
                in the meantime): the registration did not happen.
        """
        table = card_table(registry)

        def _finalize(conn: Connection) -> None:
            done = conn.execute(
                update(table)
                .where(table.c.uid == uid, table.c.status == PENDING)
                .values(**values, status=OK, owner=None, updated_at=_now())
            )
            if done.rowcount != 1:
                raise CardStateError(
                    f"the reservation of card {uid} is gone (withdrawn, or removed by "
                    "opsml gc as abandoned): register the card again"
                )
            if also is not None:
                also(conn)
            enqueue(conn, events)

        self._retrying(_finalize, f"finishing registration of {uid}")

    def remove(self, registry: RegistryType, uid: str, events: Sequence[Event] = ()) -> None:
        """Delete a record (pending or ok), its tags and aliases; queue ``events``."""
        table = card_table(registry)

        def _delete(conn: Connection) -> None:
            conn.execute(delete(TAGS).where(TAGS.c.registry == registry.value, TAGS.c.uid == uid))
            conn.execute(
                delete(ALIASES).where(ALIASES.c.registry == registry.value, ALIASES.c.uid == uid)
            )
            conn.execute(delete(table).where(table.c.uid == uid))
            enqueue(conn, events)

        self._retrying(_delete, f"deleting {uid}")

    def _retrying(self, fn: Callable[[Connection], Any], what: str) -> None:
        for attempt in range(_MAX_ATTEMPTS):
            try:
                with self._write() as conn, conn.begin():
                    fn(conn)
                return
            except OperationalError as exc:
                if not _is_transient(exc) or attempt == _MAX_ATTEMPTS - 1:
                    raise store_error(what, exc) from exc
            except (SQLAlchemyError, OverflowError) as exc:
                raise store_error(what, exc) from exc
            time.sleep(random.uniform(0.001, 0.004) * min(attempt + 1, 20))

    # -- reads ----------------------------------------------------------------------------

    def query(self, registry: RegistryType, q: CardQuery, *, summary: bool = False) -> list[Record]:
        """Return ``ok`` records matching ``q``, ordered as ``list_cards`` promises.

        Args:
            registry: The registry to query.
            q: The filters.
            summary: Only the :data:`SUMMARY_COLUMNS` (for listings).
        """
        return self._read_prepared(*_query_read(registry, q, summary))

    async def query_on_loop(
        self, reads: LoopReads, registry: RegistryType, q: CardQuery, *, summary: bool = False
    ) -> list[Record]:
        """:meth:`query`, awaited on the event loop with ``reads``' connections."""
        return await self._read_prepared_on_loop(reads, *_query_read(registry, q, summary))

    def _read_prepared(
        self,
        key: Hashable,
        build: Callable[[], Select[Any]],
        values: Mapping[str, Any],
        what: str,
    ) -> list[Record]:
        """Run the statement ``build()`` makes, compiled once per ``key`` (which must
        determine the statement; ``values`` fill its placeholders).

        Raises:
            MetadataStoreError: The database failed (``what`` says what was asked).
        """
        try:
            return self._prepared.get(key, build).run(values)
        except SQLAlchemyError as exc:
            raise store_error(what, exc) from exc

    async def _read_prepared_on_loop(
        self,
        reads: LoopReads,
        key: Hashable,
        build: Callable[[], Select[Any]],
        values: Mapping[str, Any],
        what: str,
    ) -> list[Record]:
        """:meth:`_read_prepared`, awaited on the event loop with ``reads``' connections.

        Raises:
            MetadataStoreError: The database failed (``what`` says what was asked).
        """
        try:
            return await reads.run(self._prepared.get(key, build), values)
        except SQLAlchemyError as exc:
            raise store_error(what, exc) from exc

    def _select(
        self, registry: RegistryType, q: CardQuery, *, summary: bool
    ) -> tuple[Select[Any], dict[str, Any], Hashable]:
        """The statement of :meth:`query`, the values of its placeholders and a key that
        determines the statement (for callers that add conditions of their own)."""
        shape = _Shape.of(registry, q, summary)
        return _select(shape), _values(q), shape

    def get(self, registry: RegistryType, uid: str, *, include_pending: bool = False) -> Record:
        """Return one record by uid.

        Raises:
            CardNotFoundError: No such card.
        """
        rows = self._read_prepared(*_get_read(registry, uid, include_pending))
        return _found(rows, registry, uid)

    async def get_on_loop(
        self, reads: LoopReads, registry: RegistryType, uid: str, *, include_pending: bool = False
    ) -> Record:
        """:meth:`get`, awaited on the event loop with ``reads``' connections (a server's
        read by key; see :class:`~opsml.store.LoopReads`).

        Raises:
            CardNotFoundError: No such card.
            MetadataStoreError: The database failed.
        """
        rows = await self._read_prepared_on_loop(reads, *_get_read(registry, uid, include_pending))
        return _found(rows, registry, uid)

    def space_of(self, registry: RegistryType, uid: str) -> str | None:
        """The space of the ``ok`` card with this uid in ``registry`` (``None``: no such card)."""
        table = card_table(registry)
        try:
            with self._read() as conn:
                row = conn.execute(
                    select(table.c.space).where(table.c.uid == uid, table.c.status == OK)
                ).first()
        except SQLAlchemyError as exc:
            raise store_error(f"reading card {uid}", exc) from exc
        return None if row is None else str(row.space)

    # -- updates --------------------------------------------------------------------------

    def update(
        self,
        registry: RegistryType,
        uid: str,
        values: dict[str, Any],
        tags: Sequence[str],
        also: Callable[[Connection], None] | None = None,
        events: Sequence[Event] = (),
    ) -> None:
        """Update a registered record's columns and replace its tags. In the same
        transaction, ``also`` writes derived rows and the deliveries of ``events`` are
        queued.

        Raises:
            CardNotFoundError: No such card.
            VersionConflictError: The new (space, name, version) is taken.
        """
        table = card_table(registry)
        if "version" in values:
            values = {**values, **_version_values(Version.parse(values["version"]))}
        values = {**values, "tags": json.dumps(list(dict.fromkeys(tags)))}
        try:
            with self._write() as conn, conn.begin():
                result = conn.execute(
                    update(table)
                    .where(table.c.uid == uid, table.c.status == OK)
                    .values(**values, updated_at=_now())
                )
                if result.rowcount == 0:
                    raise CardNotFoundError(f"no {registry.value} card with uid {uid!r}")
                if "space" in values or "name" in values:
                    # An alias belongs to (space, name): a card moving away leaves them.
                    conn.execute(
                        delete(ALIASES).where(
                            ALIASES.c.registry == registry.value,
                            ALIASES.c.uid == uid,
                            (ALIASES.c.space != values.get("space", ALIASES.c.space))
                            | (ALIASES.c.name != values.get("name", ALIASES.c.name)),
                        )
                    )
                conn.execute(
                    delete(TAGS).where(TAGS.c.registry == registry.value, TAGS.c.uid == uid)
                )
                if tags:
                    conn.execute(
                        insert(TAGS),
                        [
                            {"registry": registry.value, "uid": uid, "tag": tag}
                            for tag in indexed_tags(tags)
                        ],
                    )
                if also is not None:
                    also(conn)
                enqueue(conn, events)
        except IntegrityError as exc:
            raise VersionConflictError(
                f"cannot update card {uid}: {values.get('space')}/{values.get('name')} "
                f"version {values.get('version')} is already registered"
            ) from exc
        except SQLAlchemyError as exc:
            raise store_error(f"updating card {uid}", exc) from exc

    def update_manifest(
        self, registry: RegistryType, uid: str, manifest_json: str, card_json: str
    ) -> None:
        """Record files added to a registered card (experiment artifacts).

        Raises:
            CardNotFoundError: No such card.
        """
        table = card_table(registry)

        def run(conn: Connection) -> None:
            result = conn.execute(
                update(table)
                .where(table.c.uid == uid, table.c.status == OK)
                .values(manifest_json=manifest_json, card_json=card_json, updated_at=_now())
            )
            if result.rowcount == 0:
                raise CardNotFoundError(f"no {registry.value} card with uid {uid!r}")

        self._retrying(run, f"updating the files of card {uid}")

    # -- maintenance ----------------------------------------------------------------------

    def pending(self, registry: RegistryType) -> list[Row[Any]]:
        """Every pending record of a registry (for garbage collection)."""
        table = card_table(registry)
        with self._read() as conn:
            return list(
                conn.execute(
                    select(
                        table.c.uid, table.c.owner, table.c.created_at, table.c.storage_path
                    ).where(table.c.status == PENDING)
                )
            )

    def storage_paths(self, registry: RegistryType) -> set[str]:
        """Storage prefixes of every record, pending or ok."""
        table = card_table(registry)
        with self._read() as conn:
            return {path for (path,) in conn.execute(select(table.c.storage_path))}


SUMMARY_COLUMNS = (
    "uid",
    "created_at",
    "app_env",
    "space",
    "name",
    "version",
    "tags",
    "datacard_uid",
    "experimentcard_uid",
    "interface_type",
    "data_type",
    "model_type",
    "task_type",
)
"""The columns of a summary row (a listing's ``CardRecord``; an experiment's also carries
its card JSON, which holds the uids it links)."""


@dataclass(frozen=True)
class _Shape:
    """What determines the statement of a card query (its values are placeholders): which
    filters are present, how many spaces and tags, the version query, order and limit."""

    registry: RegistryType
    summary: bool
    uid: bool
    space: bool
    name: bool
    spaces: int | None
    version: VersionQuery | None
    max_date: bool
    tags: int
    alias: bool
    sort_by_timestamp: bool
    latest_first: bool
    limit: int | None

    @classmethod
    def of(cls, registry: RegistryType, q: CardQuery, summary: bool) -> _Shape:
        return cls(
            registry=registry,
            summary=summary,
            uid=q.uid is not None,
            space=q.space is not None,
            name=q.name is not None,
            spaces=None if q.spaces is None else len(q.spaces),
            version=None if q.version is None or q.version.is_any else q.version,
            max_date=q.max_date is not None and q.max_date < date.max,  # date.max: no bound
            tags=len(dict.fromkeys(q.tags)),
            alias=q.alias is not None,
            sort_by_timestamp=q.sort_by_timestamp,
            latest_first=q.latest_first,
            limit=q.limit,
        )


def _values(q: CardQuery) -> dict[str, Any]:
    """The values of the placeholders of ``_select(_Shape.of(..., q, ...))``."""
    values: dict[str, Any] = {
        key: value
        for key, value in (("uid", q.uid), ("space", q.space), ("name", q.name))
        if value is not None
    }
    for i, space in enumerate(q.spaces or ()):
        values[f"space_{i}"] = space
    if q.max_date is not None and q.max_date < date.max:
        values["end"] = datetime.combine(q.max_date + timedelta(days=1), datetime.min.time(), UTC)
    for i, tag in enumerate(dict.fromkeys(q.tags)):
        values[f"tag_{i}"] = tag
    if q.alias is not None:
        values["alias"] = q.alias
    return values


def _select(shape: _Shape) -> Select[Any]:
    """The ``SELECT`` of a card query of this shape, with placeholders for its values."""
    registry = shape.registry
    table = card_table(registry)
    if shape.summary:
        names = SUMMARY_COLUMNS + (("card_json",) if registry is RegistryType.Experiment else ())
        columns = [table.c[name] for name in names]
    else:
        columns = list(table.c)
    conditions = [table.c.status == OK]
    if shape.uid:
        conditions.append(table.c.uid == bindparam("uid"))
    if shape.space:
        conditions.append(table.c.space == bindparam("space"))
    if shape.spaces is not None:
        conditions.append(table.c.space.in_([bindparam(f"space_{i}") for i in range(shape.spaces)]))
    if shape.name:
        conditions.append(table.c.name == bindparam("name"))
    if shape.version is not None:
        conditions.append(_version_condition(registry, shape.version))
    if shape.max_date:
        conditions.append(table.c.created_at < bindparam("end"))
    for i in range(shape.tags):
        # One lookup of the (registry, tag) index per tag: the cards carrying it.
        tagged = select(TAGS.c.uid).where(
            TAGS.c.registry == registry.value, TAGS.c.tag == bindparam(f"tag_{i}")
        )
        conditions.append(table.c.uid.in_(tagged))
    if shape.alias:
        aliased = select(ALIASES.c.uid).where(
            ALIASES.c.registry == registry.value, ALIASES.c.alias == bindparam("alias")
        )
        conditions.append(table.c.uid.in_(aliased))
    stmt = select(*columns).where(and_(*conditions))
    if shape.sort_by_timestamp:
        stmt = stmt.order_by(table.c.created_at.desc(), table.c.uid.desc())
    else:
        order = version_order(_columns(registry), descending=True)
        if shape.latest_first:
            # Finals before prereleases: "latest" is the highest final release, the
            # highest prerelease only when no final exists.
            order = [(table.c.pre_key == "ff").desc(), *order]
        # (space, name, version) is unique, so the version keys order one name totally;
        # space and name only break ties across names.
        stmt = stmt.order_by(*order, table.c.space, table.c.name)
    if shape.limit is not None:
        stmt = stmt.limit(shape.limit)
    return stmt


def _query_read(
    registry: RegistryType, q: CardQuery, summary: bool
) -> tuple[Hashable, Callable[[], Select[Any]], dict[str, Any], str]:
    """The key, statement builder, values and description of :meth:`SqlStore.query`'s read."""
    shape = _Shape.of(registry, q, summary)
    return shape, functools.partial(_select, shape), _values(q), f"querying {registry.table_name}"


def _get_read(
    registry: RegistryType, uid: str, include_pending: bool
) -> tuple[Hashable, Callable[[], Select[Any]], dict[str, Any], str]:
    """The key, statement builder, values and description of :meth:`SqlStore.get`'s read."""
    return (
        ("get", registry, include_pending),
        functools.partial(_select_uid, registry, include_pending),
        {"uid": uid},
        f"reading card {uid}",
    )


def _found(rows: list[Record], registry: RegistryType, uid: str) -> Record:
    if not rows:
        raise CardNotFoundError(f"no {registry.value} card with uid {uid!r}")
    return rows[0]


def _select_uid(registry: RegistryType, include_pending: bool) -> Select[Any]:
    table = card_table(registry)
    stmt = select(table).where(table.c.uid == bindparam("uid"))
    return stmt if include_pending else stmt.where(table.c.status == OK)


def _version_values(version: Version) -> dict[str, Any]:
    return {
        "version": str(version),
        "major": version.major,
        "minor": version.minor,
        "patch": version.patch,
        "pre_release": ".".join(str(p) for p in version.pre),
        "build": ".".join(version.build),
        "pre_key": version.pre_key(),
        "build_key": version.build_key(),
    }


def _now() -> datetime:
    return datetime.now(UTC)


def parse_max_date(value: str | date | None) -> date | None:
    """Parse ``list_cards(max_date=...)``: ``YYYY-MM-DD`` (inclusive).

    Raises:
        InvalidArgumentError: Not a date.
    """
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidArgumentError(f"max_date must be YYYY-MM-DD, got {value!r}") from exc
