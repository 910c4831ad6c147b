"""Copy ours' seeded SQLite registry into a new PostgreSQL database, for the server
read-path benchmark's PostgreSQL groups (``benchmarks/server_read.py``).

Runs in ours' virtualenv (``.bench-venvs/ours``, which has the ``postgres`` extra):

    python pg_copy.py create SQLITE_URL ADMIN_URL   # prints the new database's URL
    python pg_copy.py drop DATABASE_URL ADMIN_URL
    python pg_copy.py empty ADMIN_URL               # a new database with opsml's schema
    python pg_copy.py blank ADMIN_URL               # a new database with no tables
    python pg_copy.py seed DATABASE_URL ADMIN_URL TABLE UID ROWS  # clone a card row

``blank`` is OpsML 3's database (its server creates its own schema on start); ``seed``
then clones one of its registered card rows, as ``_common.seed_clones`` does on SQLite.

``create`` makes an empty database, lets opsml create its schema there (its own
migrations, as a server would on first start), then copies every row of every table but
Alembic's from the SQLite file, in batches, and analyzes the tables so the planner knows
their sizes. The card files stay where the SQLite registry put them (the same storage
folder), so the copied cards load as the originals do.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from typing import Any

from _common import SPACE
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

BATCH = 5_000


def _admin(admin_url: str) -> Engine:
    return create_engine(admin_url, isolation_level="AUTOCOMMIT")


def create(sqlite_url: str, admin_url: str) -> str:
    """A new database holding a copy of the SQLite registry; returns its URL."""
    from opsml.store._engine import open_engine
    from opsml.store._schema import METADATA

    name = f"opsml_bench_{secrets.token_hex(4)}"
    admin = _admin(admin_url)
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    started = time.perf_counter()
    target = open_engine(url)  # runs opsml's migrations
    source = create_engine(sqlite_url)
    copied = 0
    with source.connect() as src, target.begin() as dst:
        for table in METADATA.sorted_tables:  # opsml's own tables, typed for both databases
            dst.execute(table.delete())  # rows a migration seeded come from the copy
            rows = src.execute(select(table))
            while batch := rows.fetchmany(BATCH):
                dst.execute(insert(table), [row._asdict() for row in batch])
                copied += len(batch)
    settle(target)
    target.dispose()
    source.dispose()
    print(f"copied {copied} rows in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return url


def blank(admin_url: str) -> str:
    """A new, empty database (no schema); returns its URL."""
    name = f"opsml_bench_{secrets.token_hex(4)}"
    admin = _admin(admin_url)
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def settle(engine: Engine) -> None:
    """``VACUUM ANALYZE`` the database, then a checkpoint, after a bulk insert: the planner
    gets statistics of the new rows and the visibility map is set (autovacuum, which would
    do both later, may be off: it is on this machine), and their pages are written out
    now rather than by a checkpoint while a group is measured. The checkpoint needs a
    superuser; without one it is left out."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        try:
            conn.execute(text("CHECKPOINT"))
        except DBAPIError as exc:
            print(f"no checkpoint: {exc.orig}", file=sys.stderr)


def seed(
    url: str,
    table: str,
    template_uid: str,
    total_rows: int,
    *,
    versions_per_name: int = 100,
    spaces: int = 10,
    shared_space: str = SPACE,
) -> dict[str, Any]:
    """PostgreSQL's twin of ``_common.seed_clones``: copies of one registered card row until
    ``table`` holds ``total_rows``; the same names, versions, spaces and uids (the
    template's with its last 12 hex digits replaced by a counter); every other column
    copied; identity or sequence-numbered keys left to the database. Then :func:`settle`."""
    engine = create_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        info = conn.execute(
            text(
                "SELECT column_name, column_default, is_identity FROM "
                "information_schema.columns WHERE table_name = :t ORDER BY ordinal_position"
            ),
            {"t": table},
        ).all()
        columns = {row[0]: (row[1] or "", row[2]) for row in info}
        required = {"uid", "space", "name", "version", "major", "minor", "patch"}
        if missing := required - columns.keys():
            raise RuntimeError(f"{table} lacks the columns {sorted(missing)}: {sorted(columns)}")
        major, minor = "(1 + s.v / 10)", "(s.v % 10)"
        generated = {
            "uid": "substr(t.uid, 1, length(t.uid) - 12) || lpad(to_hex(s.n), 12, '0')",
            "space": f"CASE s.p % {spaces} WHEN 0 THEN :shared"
            f" ELSE 'seed-space-' || (s.p % {spaces}) END",
            "name": "'seed-model-' || s.p",
            "version": f"{major} || '.' || {minor} || '.0'",
            "major": major,
            "minor": minor,
            "patch": "0",
        }
        targets, values = [], []
        for column, (default, identity) in columns.items():
            if column in generated:
                values.append(generated[column])
            elif identity == "YES" or default.startswith("nextval("):
                continue
            else:
                values.append(f't."{column}"')
            targets.append(f'"{column}"')
        existing = conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()
        count = total_rows - existing
        if count <= 0:
            raise ValueError(f"{table} already holds {existing} >= {total_rows} rows")
        inserted = conn.execute(
            text(
                f'INSERT INTO "{table}" ({", ".join(targets)}) SELECT {", ".join(values)} '
                f'FROM "{table}" AS t CROSS JOIN (SELECT n, n / :vpn AS p, n % :vpn AS v '
                "FROM generate_series(0, :count - 1) AS n) AS s WHERE t.uid = :template"
            ),
            {
                "count": count,
                "vpn": versions_per_name,
                "shared": shared_space,
                "template": template_uid,
            },
        ).rowcount
        total = conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()
    settle(engine)
    engine.dispose()
    if inserted != count:
        raise RuntimeError(f"seeding inserted {inserted} rows, expected {count}")
    return {
        "inserted": inserted,
        "table_rows": total,
        "seconds": time.perf_counter() - started,
        "columns": sorted(columns),
    }


def empty(admin_url: str) -> str:
    """A new database with opsml's schema and no cards (the load balancer benchmark's
    replicas then start on a schema at head); returns its URL."""
    from opsml.store._engine import open_engine

    name = f"opsml_bench_{secrets.token_hex(4)}"
    admin = _admin(admin_url)
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    open_engine(url).dispose()  # runs opsml's migrations
    return url


def drop(url: str, admin_url: str) -> None:
    """Drop the database ``create`` made."""
    name = make_url(url).database
    if not name or not name.startswith("opsml_bench_"):
        raise SystemExit(f"refusing to drop {name!r}")
    admin = _admin(admin_url)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def main() -> None:
    """Command line: ``create``, ``drop`` or ``empty``."""
    if sys.argv[1] == "empty":
        print(empty(sys.argv[2]), flush=True)
        return
    if sys.argv[1] == "blank":
        print(blank(sys.argv[2]), flush=True)
        return
    if sys.argv[1] == "seed":
        url, _admin_url, table, uid, rows = sys.argv[2:7]
        print(json.dumps(seed(url, table, uid, int(rows))), flush=True)
        return
    command, url, admin_url = sys.argv[1:4]
    if command == "create":
        print(create(url, admin_url), flush=True)
    elif command == "drop":
        drop(url, admin_url)
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
