"""A peer's registry for the server read-path benchmark (``benchmarks/server_read.py``).

Runs in the peer's virtualenv; the ModelCard, the seeding and the names are the ones of
the ``query`` case (``_opsml_api.py``): ``--versions`` real registrations of ``rf-query``
(``1.0.0`` ... explicit, so both peers hold the same versions), then one SQL statement
cloning a registered row until the table holds ``--cards`` rows.

- ``--peer ours``: registers in local mode into ``OPSML_TRACKING_URI`` (the orchestrator
  then starts ``opsml server start`` on that database), prints one JSON line and exits.
- ``--peer opsml3``: starts OpsML 3's own ``OpsmlTestServer`` (its Rust server runs in
  threads of this process), registers through it, seeds its SQLite database, logs in as
  its default user, prints one JSON line (URL, token, this process's pid) and keeps the
  server up until its standard input closes. With ``BENCH_OPSML3_DATABASE`` set (and
  ``tracking_uri_shim.so`` preloaded, see ``server_read.py``) its server runs on that
  database instead of its own SQLite file; the seeding is then left to the orchestrator
  (``pg_copy.py seed``) and ``seeded`` is null.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from _common import SPACE, claim_stdout, log, make_model, seed_clones, sqlite_path
from _opsml_api import OPSML3_LOGIN, OPSML3_PORT, QUERY_NAME, client_env, port_in_use


def _register(opsml: Any, versions: int) -> tuple[Any, str]:
    """Register ``versions`` ModelCards of ``QUERY_NAME``; the registry and the last uid."""
    clf, x = make_model()
    registry = opsml.CardRegistry(opsml.RegistryType.Model)
    uid = ""
    for i in range(versions):
        card = opsml.ModelCard(
            interface=opsml.SklearnModel(model=clf, sample_data=x[:5]),
            space=SPACE,
            name=QUERY_NAME,
            version=f"{1 + i // 10}.{i % 10}.0",
        )
        registry.register_card(card)
        uid = str(card.uid)
    return registry, uid


def main() -> None:
    """Set the peer's registry up and report where it is."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--peer", choices=("ours", "opsml3"), required=True)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--cards", type=int, default=100_000)
    args = parser.parse_args()
    out = claim_stdout()
    import opsml

    if args.peer == "ours":
        registry, uid = _register(opsml, args.versions)
        db = sqlite_path(client_env("OPSML_TRACKING_URI") or "")
        seeded = seed_clones(db, registry.table_name, uid, args.cards)
        out.write(json.dumps({"uid": uid, "seeded": seeded}) + "\n")
        out.flush()
        return

    from opsml.mock import OpsmlTestServer

    if port_in_use(OPSML3_PORT):
        raise RuntimeError(f"OpsML 3's test server needs port {OPSML3_PORT}, which is busy")
    with OpsmlTestServer():
        registry, uid = _register(opsml, args.versions)
        seeded = None
        if not os.environ.get("BENCH_OPSML3_DATABASE"):
            (db,) = Path.cwd().glob("*/opsml.db")  # the test server's own database
            seeded = seed_clones(db, registry.table_name, uid, args.cards)
        base = (client_env("OPSML_TRACKING_URI") or "").rstrip("/")
        login = urllib.request.Request(f"{base}/opsml/api/auth/login", headers=OPSML3_LOGIN)
        with urllib.request.urlopen(login, timeout=30) as response:
            token = json.loads(response.read())["token"]
        payload = {
            "uid": uid,
            "seeded": seeded,
            "base": base,
            "token": token,
            "table": registry.table_name,
        }
        out.write(json.dumps({**payload, "pid": os.getpid()}) + "\n")
        out.flush()
        log("serving until standard input closes")
        sys.stdin.read()
        time.sleep(0.1)


if __name__ == "__main__":
    main()
