"""Copy ours' seeded SQLite registry into a new PostgreSQL database, for the server
read-path benchmark's PostgreSQL groups (``benchmarks/server_read.py``).

Runs in ours' virtualenv (``.bench-venvs/ours``, which has the ``postgres`` extra):

    python pg_copy.py create SQLITE_URL ADMIN_URL   # prints the new database's URL
    python pg_copy.py drop DATABASE_URL ADMIN_URL
    python pg_copy.py empty ADMIN_URL               # a new database with opsml's schema

``create`` makes an empty database, lets opsml create its schema there (its own
migrations, as a server would on first start), then copies every row of every table but
Alembic's from the SQLite file, in batches, and analyzes the tables so the planner knows
their sizes. The card files stay where the SQLite registry put them (the same storage
folder), so the copied cards load as the originals do.
"""

from __future__ import annotations

import secrets
import sys
import time

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import Engine, make_url

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
    with target.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    target.dispose()
    source.dispose()
    print(f"copied {copied} rows in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return url


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
    command, url, admin_url = sys.argv[1:4]
    if command == "create":
        print(create(url, admin_url), flush=True)
    elif command == "drop":
        drop(url, admin_url)
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
