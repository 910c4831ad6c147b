"""Helpers shared by the peer scripts.

Each peer script runs inside its own virtualenv, so this module uses only the standard
library (plus scikit-learn, which every peer venv has, in :func:`make_model`, and numpy and
pandas in :func:`make_frame`).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

SPACE = "bench"
ALL_CASES = ("register", "load", "query", "import", "data", "profile", "client", "rps")
FRAME_COLUMNS = 10
FRAME_SEED = 42


@dataclass(frozen=True)
class BenchArgs:
    """What the orchestrator asked this peer to run (see ``run.py``)."""

    cases: tuple[str, ...]
    register_n: int
    load_n: int
    warmup: int
    seed_cards: int
    query_versions: int
    query_n: int
    import_n: int
    data_rows: int = 2_000_000
    data_n: int = 5
    profile_n: int = 3
    client_n: int = 30
    client_data_n: int = 5
    rps_seconds: float = 10.0
    rps_connections: int = 16
    rps_runs: int = 3


def parse_args(argv: list[str] | None = None) -> BenchArgs:
    """Parse the command line every peer script accepts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", default=",".join(ALL_CASES))
    parser.add_argument("--register-n", type=int, default=30)
    parser.add_argument("--load-n", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--seed-cards", type=int, default=100_000)
    parser.add_argument("--query-versions", type=int, default=100)
    parser.add_argument("--query-n", type=int, default=200)
    parser.add_argument("--import-n", type=int, default=10)
    parser.add_argument("--data-rows", type=int, default=2_000_000)
    parser.add_argument("--data-n", type=int, default=5)
    parser.add_argument("--profile-n", type=int, default=3)
    parser.add_argument("--client-n", type=int, default=30)
    parser.add_argument("--client-data-n", type=int, default=5)
    parser.add_argument("--rps-seconds", type=float, default=10.0)
    parser.add_argument("--rps-connections", type=int, default=16)
    parser.add_argument("--rps-runs", type=int, default=3)
    ns = parser.parse_args(argv)
    cases = tuple(c for c in ns.cases.split(",") if c)
    unknown = set(cases) - set(ALL_CASES)
    if unknown:
        parser.error(f"unknown case(s): {sorted(unknown)}")
    return BenchArgs(
        cases=cases,
        register_n=ns.register_n,
        load_n=ns.load_n,
        warmup=ns.warmup,
        seed_cards=ns.seed_cards,
        query_versions=ns.query_versions,
        query_n=ns.query_n,
        import_n=ns.import_n,
        data_rows=ns.data_rows,
        data_n=ns.data_n,
        profile_n=ns.profile_n,
        client_n=ns.client_n,
        client_data_n=ns.client_data_n,
        rps_seconds=ns.rps_seconds,
        rps_connections=ns.rps_connections,
        rps_runs=ns.rps_runs,
    )


def log(message: str) -> None:
    """Progress line on stderr (the orchestrator keeps it in the peer's log file)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def claim_stdout() -> TextIO:
    """Reserve the real stdout for the JSON result; send everything else to stderr.

    Works at the file-descriptor level, so output printed by compiled extensions (OpsML 3
    prints "Registered card" from Rust) cannot corrupt the JSON.
    """
    result = os.fdopen(os.dup(1), "w")
    sys.stdout.flush()
    os.dup2(2, 1)
    return result


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes (``time.perf_counter``)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def repeat(fn: Callable[[int], object], n: int, warmup: int) -> list[float]:
    """Call ``fn(i)`` ``warmup`` times untimed, then ``n`` times timed; return the samples."""
    for i in range(warmup):
        fn(i)
    samples: list[float] = []
    for i in range(warmup, warmup + n):
        start = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - start)
    return samples


def make_model() -> tuple[Any, Any]:
    """The benchmark's model: a 5-tree random forest on 1 000 x 4 synthetic rows."""
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    x, y = make_classification(n_samples=1000, n_features=4, random_state=42)
    clf = RandomForestClassifier(n_estimators=5, random_state=42).fit(x, y)
    return clf, x


STAMP_BASE = 1000.0
"""The value the last row's first cell gets in sample ``i``: ``STAMP_BASE + i`` (no value of
a standard normal frame comes near it)."""


def stamp_frame(frame: Any, sample: int) -> None:
    """Make ``frame`` differ from every other sample's: its last row's first cell becomes
    ``STAMP_BASE + sample``, in place.

    Every sample registers new bytes, as a user registering new data does, so no registry
    can answer a registration with work it did for an earlier one (content addressing: a
    server that already holds the bytes would take them without an upload). The baseline
    files of a sample are written from the same stamped frame.
    """
    frame.iat[-1, 0] = STAMP_BASE + sample


def make_frame(rows: int) -> Any:
    """The data cases' frame: ``rows`` x 10 standard-normal float64 values, fixed seed.

    2 000 000 rows make 160 MB. The column labels are an object-dtype Index: OpsML 3's
    profiler rejects pandas 3's default ``str`` column Index ("Column names must be
    strings"), and both peers get the very same frame.
    """
    import numpy as np
    import pandas as pd

    values = np.random.default_rng(FRAME_SEED).standard_normal((rows, FRAME_COLUMNS))
    columns = pd.Index([f"f{i}" for i in range(FRAME_COLUMNS)], dtype=object)
    return pd.DataFrame(values, columns=columns, copy=False)


def parquet_options(frame: Any) -> dict[str, Any]:
    """The options ours' ``PandasData`` passes to ``DataFrame.to_parquet`` for ``frame``.

    A copy of its rule (``src/opsml/interfaces/data/_pandas.py``): pyarrow, and dictionary
    encoding only for the columns (and index levels) that are not floating-point, when
    every column label is a string; everything else pandas' and pyarrow's defaults (snappy,
    row groups of 1 Mi rows, statistics on). The pandas baseline writes with these, so it
    writes the same file as ours; ours' run checks that with :func:`parquet_layout`.
    """
    import pandas as pd

    options: dict[str, Any] = {"engine": "pyarrow"}
    if not all(isinstance(label, str) for label in frame.columns):
        return options
    columns = [
        label for label, dtype in frame.dtypes.items() if not pd.api.types.is_float_dtype(dtype)
    ]
    if not isinstance(frame.index, pd.RangeIndex):
        columns += [
            name if isinstance(name, str) else f"__index_level_{level}__"
            for level, name in enumerate(frame.index.names)
        ]
    options["use_dictionary"] = columns
    return options


def parquet_layout(path: Path) -> dict[str, Any]:
    """What a Parquet writer's options decide, read from the file's footer: format
    version, writer, row groups, and per column its compression, encodings, statistics and
    dictionary page (two files with the same layout were written with the same options)."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    columns: dict[str, Any] = {}
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        for j in range(group.num_columns):
            column = group.column(j)
            columns.setdefault(column.path_in_schema, set()).add(
                (
                    column.compression,
                    tuple(sorted(column.encodings)),
                    column.is_stats_set,
                    column.has_dictionary_page,
                )
            )
    return {
        "format_version": meta.format_version,
        "created_by": meta.created_by,
        "row_groups": [meta.row_group(i).num_rows for i in range(meta.num_row_groups)],
        "columns": {name: sorted(kinds) for name, kinds in columns.items()},
    }


def proc_status(field: str) -> int:
    """A memory field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``, ...) in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (``VmHWM``) to its current RSS (Linux >= 4.0).

    Returns:
        False when the kernel refused; ``VmHWM`` then still holds the earlier peak.
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class LoadResult:
    """What one HTTP load run measured."""

    tool: str
    requests: int
    seconds: float
    rps: float
    p50: float  # seconds
    p99: float  # seconds
    errors: int  # non-2xx responses and socket errors

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


_WRK_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _wrk_seconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match.group(1)) * _WRK_UNITS[match.group(2)]


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests, requests/s, p50/p99 latency (seconds) and errors from ``wrk --latency``."""
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    done = re.search(r"^\s+(\d+) requests in ([\d.]+\w+),", output, re.MULTILINE)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if not (done and rps and {"50", "99"} <= percentiles.keys()):
        raise ValueError(f"cannot parse wrk output:\n{output}")
    errors = sum(
        int(n)
        for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output)
        + re.findall(r"(?:connect|read|write|timeout) (\d+)", output)
    )
    return {
        "requests": int(done.group(1)),
        "seconds": _wrk_seconds(done.group(2)),
        "rps": float(rps.group(1)),
        "p50": _wrk_seconds(percentiles["50"]),
        "p99": _wrk_seconds(percentiles["99"]),
        "errors": errors,
    }


def run_wrk(url: str, headers: dict[str, str], seconds: float, connections: int) -> LoadResult:
    """Load ``url`` with GETs for ``seconds`` using wrk (2 threads, ``connections``)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise FileNotFoundError("wrk is not installed")
    version = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    tool = " ".join(version.stdout.split()[:2]) or "wrk"
    cmd = [wrk, "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    proc = subprocess.run([*cmd, url], capture_output=True, text=True, check=True)
    log(f"wrk output:\n{proc.stdout}")
    return LoadResult(tool=f"{tool} ({' '.join(cmd[1:4])})", **parse_wrk(proc.stdout))


def run_python_load(
    url: str, headers: dict[str, str], seconds: float, connections: int
) -> LoadResult:
    """wrk's stand-in: ``connections`` threads, each a keep-alive connection issuing GETs.

    Measures the same as wrk, but the client itself needs CPU (and the GIL), so on a
    small machine it loads the server less than wrk does: a lower bound of requests/s.
    """
    parts = urllib.parse.urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        mine: list[float] = []
        failed = 0
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                conn.request("GET", target, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = 200 <= response.status < 300
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                ok = False
            mine.append(time.perf_counter() - start)
            failed += not ok
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return LoadResult(
        tool=f"Python load generator ({connections} threads, keep-alive)",
        requests=len(latencies),
        seconds=elapsed,
        rps=len(latencies) / elapsed,
        p50=cuts[49],
        p99=cuts[98],
        errors=errors[0],
    )


def http_load(
    url: str, headers: dict[str, str], seconds: float, connections: int, runs: int
) -> list[LoadResult]:
    """GET ``url`` under load, ``runs`` times for ``seconds`` each, after a 1 s warm-up.

    Uses wrk, or :func:`run_python_load` when wrk is not installed. Every request carries a
    ``User-Agent`` (wrk sends none, and OpsML 3's server answers 400 without one).
    """
    headers = {"User-Agent": "opsml-bench", **headers}
    runner = run_wrk if shutil.which("wrk") else run_python_load
    if runner is run_python_load:
        log("wrk not found: using the Python load generator")
    runner(url, headers, 1.0, connections)  # connections, caches, the server's first calls
    return [runner(url, headers, seconds, connections) for _ in range(runs)]


def package_versions(names: list[str]) -> dict[str, str]:
    """Installed version of each distribution in ``names`` ("-" when absent)."""
    versions: dict[str, str] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "-"
    return versions


def import_times(module: str, n: int) -> dict[str, Any]:
    """Wall time of ``python -c "import <module>"`` minus ``python -c pass``, ``n`` pairs.

    Each sample is a fresh interpreter; the two commands alternate so drift hits both.
    One untimed run of each first warms the page cache and writes the ``.pyc`` files.
    """

    def run(code: str) -> float:
        return timed(lambda: subprocess.run([sys.executable, "-c", code], check=True))

    stmt = f"import {module}"
    run(stmt)
    run("pass")
    imports: list[float] = []
    baselines: list[float] = []
    for _ in range(n):
        baselines.append(run("pass"))
        imports.append(run(stmt))
    return {
        "samples": [i - b for i, b in zip(imports, baselines, strict=True)],
        "raw_import": imports,
        "raw_baseline": baselines,
    }


def sqlite_path(tracking_uri: str) -> Path:
    """Database file of a ``sqlite:///...`` URL."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        raise ValueError(f"not a sqlite URL: {tracking_uri!r}")
    return Path(tracking_uri[len(prefix) :])


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def seed_clones(
    db: Path,
    table: str,
    template_uid: str,
    total_rows: int,
    *,
    versions_per_name: int = 100,
    spaces: int = 10,
    shared_space: str = SPACE,
) -> dict[str, Any]:
    """Bulk-insert copies of one registered card row until the table holds ``total_rows``.

    The table's columns are read at run time (``PRAGMA table_info``), so this adapts to
    whatever schema the peer created. Only identity columns change: ``uid`` keeps the
    template's format with its last 12 hex digits replaced by a counter; the rows go to
    names ``seed-model-<p>`` of ``versions_per_name`` versions each (``1.0.0``, ``1.1.0``,
    ... ``10.9.0`` for 100), spread over ``spaces`` spaces, one of which is
    ``shared_space`` (next to the measured card). Every other column (status, order keys,
    JSON payload, ...) is copied from the template; integer auto-increment keys are left to
    the database.

    Returns:
        The number of rows inserted, the table's row count afterwards, and the seconds taken.
    """
    conn = sqlite3.connect(db, timeout=60)
    try:
        info = conn.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
        columns = {row[1]: (str(row[2]).upper(), row[5]) for row in info}
        required = {"uid", "space", "name", "version", "major", "minor", "patch"}
        missing = required - columns.keys()
        if missing:
            raise RuntimeError(f"{table} lacks the columns {sorted(missing)}: {sorted(columns)}")
        major = "(1 + s.v / 10)"
        minor = "(s.v % 10)"
        generated = {
            "uid": "substr(t.uid, 1, length(t.uid) - 12) || printf('%012x', s.n)",
            "space": f"CASE s.p % {spaces} WHEN 0 THEN :shared"
            f" ELSE 'seed-space-' || (s.p % {spaces}) END",
            "name": "'seed-model-' || s.p",
            "version": f"{major} || '.' || {minor} || '.0'",
            "major": major,
            "minor": minor,
            "patch": "0",
        }
        targets: list[str] = []
        values: list[str] = []
        for column, (col_type, pk) in columns.items():
            if column in generated:
                values.append(generated[column])
            elif pk and col_type == "INTEGER":
                continue  # rowid alias: let SQLite number it
            else:
                values.append(f"t.{_quote(column)}")
            targets.append(_quote(column))
        existing = conn.execute(f"SELECT COUNT(*) FROM {_quote(table)}").fetchone()[0]
        count = total_rows - existing
        if count <= 0:
            raise ValueError(f"{table} already holds {existing} >= {total_rows} rows")
        sql = f"""
            WITH RECURSIVE seq(n) AS (
                SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n + 1 < :count
            ),
            s AS (SELECT n, n / :vpn AS p, n % :vpn AS v FROM seq)
            INSERT INTO {_quote(table)} ({", ".join(targets)})
            SELECT {", ".join(values)}
            FROM {_quote(table)} AS t CROSS JOIN s
            WHERE t.uid = :template
        """
        params = {
            "count": count,
            "vpn": versions_per_name,
            "shared": shared_space,
            "template": template_uid,
        }
        start = time.perf_counter()
        before = conn.total_changes  # cursor.rowcount is -1 for a WITH ... INSERT
        with conn:
            conn.execute(sql, params)
        inserted = conn.total_changes - before
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        seconds = time.perf_counter() - start
        total = conn.execute(f"SELECT COUNT(*) FROM {_quote(table)}").fetchone()[0]
    finally:
        conn.close()
    if inserted != count:
        raise RuntimeError(f"seeding inserted {inserted} rows, expected {count}")
    return {
        "inserted": inserted,
        "table_rows": total,
        "seconds": seconds,
        "columns": sorted(columns),
    }


@contextmanager
def case(results: dict[str, Any], name: str) -> Iterator[dict[str, Any]]:
    """Collect one case's output into ``results[name]``; record an exception instead of dying."""
    entry: dict[str, Any] = {}
    results[name] = entry
    log(f"case {name}: start")
    start = time.perf_counter()
    try:
        yield entry
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # also pyo3's PanicException (OpsML 3's Rust panics)
        entry["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc(file=sys.stderr)
    log(f"case {name}: done in {time.perf_counter() - start:.1f} s")


def emit(out: TextIO, payload: dict[str, Any]) -> None:
    """Write the peer's result as one JSON object on the reserved stdout."""
    payload.setdefault("python", sys.version.split()[0])
    out.write(json.dumps(payload) + "\n")
    out.flush()
