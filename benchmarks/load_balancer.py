"""Server replicas behind HAProxy (issue 24): requests/s and p99 of GET card metadata and of
a mixed workload with 1, 2 and 4 server workers in total, the scaling per added worker, and
a projection on paper for a 16-core host and for N hosts.

Every group runs on a fresh PostgreSQL database (the machine's, on loopback; created from
``OPSML_BENCH_PG_URL``'s admin database by ``peers/pg_copy.py empty`` with opsml's schema,
dropped afterwards) and a fresh prefix of one bucket in moto's S3 server (as the tests use
it; ``python -m moto.server`` of the interpreter running this script, which ``make bench``'s
dev venv provides). The groups:

- ``1x1``: one replica, ``opsml server start --workers 1`` (1 worker in total);
- ``2x1``: two replicas of one worker each (2 workers);
- ``2x2``: two replicas of two workers each (4 workers).

The replicas are ``.bench-venvs/ours``' ``opsml`` (``setup_venvs.sh ours``), without
authentication, behind one HAProxy process (``scripts/install-haproxy.sh``; round robin,
keep-alive, ``option httpchk GET /opsml/api/readyz`` every 2 s, as
``tests/integration/test_load_balancer.py`` configures it). ``--seed`` small DataCards
(100 floats) are registered through it first. Then, in each group:

1. **GET card metadata** (``/opsml/api/data/cards/{uid}`` of one seeded card) with wrk
   (2 threads, ``--connections``) through HAProxy, ``--seconds`` after a 2 s warm-up;
2. **mixed workload**: ``--clients`` processes of opsml's real Python client
   (``peers/lb_client.py``, client mode, ``OPSML_TRACKING_URI`` = HAProxy), each running
   operations back to back for ``--seconds``: 10 % registrations of a small DataCard (its
   file goes to the bucket by presigned URL), 45 % ``load_card(uid=…)``, 45 %
   ``list_cards(space, name)`` (25 rows). Per-operation latencies are recorded by the
   clients.

CPU is sampled every 0.2 s from ``/proc/PID/stat`` (user + system, so it does not depend on
how the processes share the cores): the replicas (every worker), the PostgreSQL backend
processes connected to the group's database, HAProxy, the S3 emulator and the clients;
divided by the requests HAProxy counted (its stats) or by the operations. Any non-2xx answer,
socket error or client error fails the run. Storage writes per registration are the PUT and
POST requests in the emulator's log.

Usage::

    python benchmarks/load_balancer.py            # its section of benchmarks/RESULTS.md
    python benchmarks/load_balancer.py --quick    # 3 s per case: .work/RESULTS-partial.md
    python benchmarks/load_balancer.py --results benchmarks/results-lb.md

Standard library only, plus wrk, haproxy, and moto in this interpreter.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PEERS = BENCH / "peers"
sys.path.insert(0, str(PEERS))

from _common import parse_wrk  # noqa: E402
from _load import command_line, now_utc, postgres_backends  # noqa: E402
from _sections import (  # noqa: E402
    add_load_arguments,
    gate_from,
    results_path,
    section_header,
    write_section,
)

from opsml.store._engine import DEFAULT_POOL_SIZE  # noqa: E402

VENVS = ROOT / ".bench-venvs"
WORK = BENCH / ".work"
SECTION = "load-balancer"
PG_ADMIN_URL = os.environ.get(
    "OPSML_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BUCKET = "opsml-bench-lb"
USER_AGENT = "opsml-bench"
WRITE_SHARE = 0.10
KINDS = ("load_card", "list_cards", "register")
# (key, replicas, workers per replica)
LAYOUTS = (("1x1", 1, 1), ("2x1", 2, 1), ("2x2", 2, 2))
# PostgreSQL's default connection limit, for the projection (the server's pool per worker
# is opsml.store._engine's DEFAULT_POOL_SIZE: kept open, none opened beyond it).
PG_MAX_CONNECTIONS = 100
# AWS S3's documented request rate per partitioned prefix (PUT/COPY/POST/DELETE).
S3_WRITES_PER_PREFIX = 3500
SAMPLE_EVERY = 0.2


# -- pure helpers (benchmarks/test_harness.py) ------------------------------------------------


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank; 0 for no values."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[min(rank, len(ordered)) - 1]


def scaling(rates: dict[int, float]) -> dict[int, tuple[float, float]]:
    """For each total worker count, the speedup over the smallest count and the gain per
    added worker as a share of that count's rate per worker (1.0: each added worker adds
    as much as the first did; 0: no gain)."""
    if not rates:
        return {}
    base_workers = min(rates)
    base = rates[base_workers]
    out: dict[int, tuple[float, float]] = {}
    for workers, rate in sorted(rates.items()):
        speedup = rate / base if base else 0.0
        added = workers - base_workers
        per_worker_base = base / base_workers if base_workers else 0.0
        gain = (rate - base) / added / per_worker_base if added and per_worker_base else 1.0
        out[workers] = (speedup, gain)
    return out


class CpuTotals:
    """CPU seconds per category of processes from repeated looks at their counters.

    ``observe(category, {pid: seconds})`` records what a look found; a pid seen for the
    first time at the first look counts from that value, one born later from 0 (its whole
    life fell in the window), and one that exits keeps what it had at its last look.
    """

    def __init__(self) -> None:
        self._first: dict[tuple[str, int], float] = {}
        self._last: dict[tuple[str, int], float] = {}
        self._looked: set[str] = set()

    def observe(self, category: str, seconds: dict[int, float]) -> None:
        """One look at ``category``'s processes."""
        first = category not in self._looked
        self._looked.add(category)
        for pid, value in seconds.items():
            key = (category, pid)
            if key not in self._first:
                self._first[key] = value if first else 0.0
            self._last[key] = max(value, self._last.get(key, 0.0))

    def total(self, category: str) -> float:
        """CPU seconds ``category`` used since its first look."""
        return sum(
            last - self._first[key] for key, last in self._last.items() if key[0] == category
        )


def haproxy_requests(stats_csv: str) -> int:
    """HTTP requests the ``opsml`` frontend received, from HAProxy's stats CSV."""
    rows = csv.DictReader(io.StringIO(stats_csv.lstrip("# ")))
    for row in rows:
        if row["pxname"] == "opsml" and row["svname"] == "FRONTEND":
            return int(row["req_tot"] or 0)
    raise ValueError("no opsml FRONTEND row in HAProxy's stats")


def storage_writes(log_text: str) -> int:
    """PUT and POST requests in moto's request log."""
    return sum(1 for line in log_text.splitlines() if '"PUT /' in line or '"POST /' in line)


@dataclass
class Figures:
    """CPU milliseconds per request (or operation) of each part, for the projection."""

    server: float
    postgres: float
    haproxy: float


def projection(
    reads: Figures, mixed: Figures, registrations_share: float, writes: float
) -> list[str]:
    """The section's projection on paper, from the measured CPU per request."""
    cores, lines = 16, []

    def cap(ms: float) -> float:
        return cores * 1000 / ms if ms > 0 else math.inf

    def fmt(rate: float) -> str:
        return "unbounded" if math.isinf(rate) else f"{rate:,.0f}"

    for label, f, unit in (
        ("GET card metadata", reads, "requests/s"),
        ("the mixed workload", mixed, "operations/s"),
    ):
        together = f.server + f.postgres + f.haproxy
        server_cap, pg_cap = cap(f.server), cap(f.postgres)
        first = "the servers' CPU" if server_cap <= pg_cap else "PostgreSQL's CPU"
        hosts = pg_cap / server_cap if server_cap and not math.isinf(pg_cap) else math.inf
        share = 100 * f.server / together if together else 0.0
        lines += [
            f"- **{label}** ({f.server:.3f} ms server + {f.postgres:.3f} ms PostgreSQL + "
            f"{f.haproxy:.3f} ms HAProxy CPU per {unit.split('/')[0][:-1]}):",
            f"  - one 16-core host running everything: about {fmt(cap(together))} {unit}, "
            f"CPU-bound, {share:.0f} % of it in the servers;",
            f"  - a 16-core host of 16 workers with PostgreSQL on another 16-core host: the "
            f"servers give about {fmt(server_cap)} {unit}, PostgreSQL about {fmt(pg_cap)}: "
            f"{first} saturates first;",
            f"  - N such hosts of servers on one 16-core PostgreSQL: N x {fmt(server_cap)} "
            f"{unit} until PostgreSQL's CPU saturates at about N = {hosts:.1f}"
            if not math.isinf(hosts)
            else f"  - N such hosts: no PostgreSQL CPU was measured per {unit[:-2]}",
        ]
    per_worker = DEFAULT_POOL_SIZE
    lines += [
        f"- **Connections** are the first limit reached, before any CPU: each worker keeps "
        f"up to {per_worker} database connections open (`OPSML_DB_POOL_SIZE`) and opens no "
        f"more, so one 16-worker host may hold {16 * per_worker} and N hosts N x "
        f"{16 * per_worker}, against PostgreSQL's default `max_connections` of "
        f"{PG_MAX_CONNECTIONS}: from the first 16-core host on, raise it or put PgBouncer "
        "in front (the CPU figures above hold only then).",
    ]
    if writes > 0 and registrations_share > 0:
        registrations = S3_WRITES_PER_PREFIX / writes
        lines.append(
            f"- **Storage**: a registration made {writes:.1f} writes to the bucket (measured); "
            "reads of metadata make none. At S3's documented "
            f"{S3_WRITES_PER_PREFIX:,} writes/s per prefix that is about "
            f"{registrations:,.0f} registrations/s, i.e. a {registrations_share:.0%} "
            f"registration mix of about {registrations / registrations_share:,.0f} "
            "operations/s: not the first limit. The emulator's own CPU is not projected "
            "(it is not S3)."
        )
    return lines


# -- processes ---------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry.name))
    return parents


def _descendants(pids: Iterable[int]) -> list[int]:
    """``pids`` and every process below them."""
    parents = _children()
    found, todo = [], list(pids)
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def _cpu(pids: Iterable[int]) -> dict[int, float]:
    """User + system CPU seconds of each process (its threads included)."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


class CpuSampler:
    """Samples the CPU of each category of processes every ``SAMPLE_EVERY`` seconds in a
    thread, so backends and workers that come and go are counted."""

    def __init__(self, categories: dict[str, Callable[[], Iterable[int]]]) -> None:
        self.categories = categories
        self.totals = CpuTotals()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def look(self) -> None:
        for name, pids in self.categories.items():
            self.totals.observe(name, _cpu(pids()))

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY):
            self.look()

    def __enter__(self) -> CpuSampler:
        self.look()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.look()

    def so_far(self) -> float:
        """CPU seconds of every category so far (a fresh look; for the load gate)."""
        return sum(sum(_cpu(pids()).values()) for pids in self.categories.values())


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http(url: str, method: str = "GET", timeout: float = 10) -> bytes:
    request = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body: bytes = response.read()
        return body


def _wait_for(url: str, procs: list[subprocess.Popen[Any]], log: Path, what: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError(f"{what} exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            _http(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer {url}: {log.read_text(errors='replace')[-2000:]}")


def _stop(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)


def _home_env(workdir: Path) -> dict[str, str]:
    """The environment of a process of ours: no Python or opsml settings of the caller's,
    homed in ``workdir``."""
    drop = ("PYTHON", "VIRTUAL_ENV", "OPSML_", "MLFLOW_", "APP_ENV", "CONDA", "AWS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    home = workdir / "home"
    for sub in ("config", "cache", "tmp"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    return env | {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "TMPDIR": str(home / "tmp"),
    }


@dataclass
class Storage:
    """moto's S3 server: its process, log and the credentials a replica needs."""

    proc: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]


@contextmanager
def s3_emulator(workdir: Path) -> Iterator[Storage]:
    """moto in server mode with one bucket."""
    port = _free_port()
    log = workdir / "moto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                _http(f"{endpoint}/{BUCKET}", method="PUT")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": endpoint,
        }
        yield Storage(proc, log, env)
    finally:
        _stop(proc)


def _pg(command: str, *args: str) -> str:
    """``peers/pg_copy.py`` in ours' venv; its standard output."""
    cmd = [str(VENVS / "ours" / "bin" / "python"), str(PEERS / "pg_copy.py"), command, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"pg_copy {command} failed: {proc.stderr[-2000:]}")
    return proc.stdout.strip()


@dataclass
class Cluster:
    """The replicas and HAProxy of one group."""

    replicas: list[subprocess.Popen[bytes]]
    haproxy: subprocess.Popen[bytes]
    base: str  # HAProxy's URL
    stats: str  # its stats CSV URL
    database: str  # the database's name

    def requests(self) -> int:
        return haproxy_requests(_http(self.stats).decode())

    def server_pids(self) -> list[int]:
        return _descendants(p.pid for p in self.replicas)


def _haproxy_config(port: int, stats: int, replicas: list[int]) -> str:
    servers = "\n".join(
        f"  server r{n} 127.0.0.1:{p} check inter 2000 fall 2 rise 1"
        for n, p in enumerate(replicas, 1)
    )
    return f"""global
  maxconn 4000
defaults
  mode http
  timeout connect 2s
  timeout client 180s
  timeout server 180s
  retries 3
  option redispatch
frontend opsml
  bind 127.0.0.1:{port}
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk GET /opsml/api/readyz
  http-check expect status 200
{servers}
listen stats
  bind 127.0.0.1:{stats}
  stats enable
  stats uri /stats
"""


@contextmanager
def cluster(
    workdir: Path, storage: Storage, key: str, replicas: int, workers: int
) -> Iterator[Cluster]:
    """A fresh database, ``replicas`` replicas of ``workers`` workers and HAProxy."""
    url = _pg("empty", PG_ADMIN_URL)
    database = url.rsplit("/", 1)[1].split("?", 1)[0]
    procs: list[subprocess.Popen[bytes]] = []
    haproxy: subprocess.Popen[bytes] | None = None
    try:
        env = _home_env(workdir) | storage.env
        env |= {
            "OPSML_TRACKING_URI": url,
            "OPSML_STORAGE_URI": f"s3://{BUCKET}/{key}",
            "OPSML_GC_INTERVAL": "0",
            "OPSML_LOG_FORMAT": "json",
        }
        ports = [_free_port() for _ in range(replicas)]
        opsml = VENVS / "ours" / "bin" / "opsml"
        for n, port in enumerate(ports, 1):
            log = WORK / f"lb-{key}-r{n}.log"
            cmd = [str(opsml), "server", "start", "--workers", str(workers), "--port", str(port)]
            with log.open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        cmd, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT
                    )
                )
        for n, port in enumerate(ports, 1):
            ready = f"http://127.0.0.1:{port}/opsml/api/readyz"
            _wait_for(ready, procs, WORK / f"lb-{key}-r{n}.log", f"replica {n}")
        lb, stats = _free_port(), _free_port()
        config = workdir / f"haproxy-{key}.cfg"
        config.write_text(_haproxy_config(lb, stats, ports))
        log = WORK / f"lb-{key}-haproxy.log"
        with log.open("wb") as out:
            haproxy = subprocess.Popen(
                [str(shutil.which("haproxy")), "-db", "-f", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{lb}"
        _wait_for(f"{base}/opsml/api/readyz", [haproxy], log, "haproxy")
        time.sleep(1)  # every worker of every replica up
        yield Cluster(procs, haproxy, base, f"http://127.0.0.1:{stats}/stats;csv", database)
    finally:
        if haproxy is not None:
            _stop(haproxy)
        for proc in procs:
            _stop(proc)
        _pg("drop", url, PG_ADMIN_URL)


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Case:
    """One measured case of one group: its rate, latencies and CPU per request."""

    rate: float  # requests/s (wrk) or operations/s (mixed)
    p50: float
    p99: float
    count: int  # requests or operations
    http_requests: int  # what HAProxy counted
    errors: int
    cpu: dict[str, float]  # CPU seconds per category over the case
    seconds: float  # the case's duration
    latencies: dict[str, dict[str, float]] = field(default_factory=dict)  # mixed, per kind
    storage_writes: int = 0
    registrations: int = 0
    error_text: str = ""

    @property
    def cores(self) -> float:
        """Cores the measured processes (load generators included) kept busy on average."""
        return sum(self.cpu.values()) / self.seconds if self.seconds > 0 else 0.0

    def per(self, category: str) -> float:
        """CPU ms of ``category`` per request (wrk) or operation (mixed)."""
        return 1000 * self.cpu.get(category, 0.0) / max(self.count, 1)


@dataclass
class Group:
    """One layout of replicas and workers."""

    key: str
    replicas: int
    workers: int
    reads: Case | None = None
    mixed: Case | None = None
    error: str = ""

    @property
    def total(self) -> int:
        return self.replicas * self.workers


def _categories(c: Cluster, storage: Storage) -> dict[str, Callable[[], Iterable[int]]]:
    return {
        "server": c.server_pids,
        "postgres": lambda: postgres_backends(c.database),
        "haproxy": lambda: [c.haproxy.pid],
        "storage": lambda: [storage.proc.pid],
    }


def _wrk(url: str, seconds: float, connections: int) -> dict[str, Any]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    cmd += ["-H", f"User-Agent: {USER_AGENT}", url]
    return parse_wrk(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


def measure_reads(c: Cluster, storage: Storage, uid: str, args: argparse.Namespace) -> Case:
    """wrk on GET card metadata through HAProxy."""
    url = f"{c.base}/opsml/api/data/cards/{uid}"
    if uid not in _http(url).decode():
        raise RuntimeError(f"GET {url} did not return the card")
    _wrk(url, 2, args.connections)
    before, wrk_before = c.requests(), resource.getrusage(resource.RUSAGE_CHILDREN)
    with CpuSampler(_categories(c, storage)) as sampler:
        result = _wrk(url, args.seconds, args.connections)
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = sum(getattr(wrk_after, f) - getattr(wrk_before, f) for f in ("ru_utime", "ru_stime"))
    case = Case(
        rate=result["rps"],
        p50=result["p50"],
        p99=result["p99"],
        count=result["requests"],
        http_requests=c.requests() - before,
        errors=result["errors"],
        cpu={k: sampler.totals.total(k) for k in sampler.categories} | {"wrk": wrk_cpu},
        seconds=result["seconds"],
    )
    print(
        f"[bench]   GET metadata: {case.rate:.0f} req/s, p50 {case.p50 * 1000:.1f} ms, p99 "
        f"{case.p99 * 1000:.1f} ms, server {case.per('server'):.3f} ms/req, PostgreSQL "
        f"{case.per('postgres'):.3f} ms/req, errors {case.errors}",
        flush=True,
    )
    return case


def _client(n: int, c: Cluster, workdir: Path, mode: list[str]) -> subprocess.Popen[str]:
    env = _home_env(workdir / f"client-{n}") | {
        "OPSML_TRACKING_URI": c.base,
        "OPSML_CACHE_DIR": str(workdir / f"client-{n}" / "cache"),
    }
    log = WORK / f"lb-client-{n}.log"
    return subprocess.Popen(
        [str(VENVS / "ours" / "bin" / "python"), str(PEERS / "lb_client.py"), *mode],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log.open("a"),
        text=True,
    )


def _line(proc: subprocess.Popen[str], n: int) -> dict[str, Any]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(60)
        log = (WORK / f"lb-client-{n}.log").read_text(errors="replace")
        raise RuntimeError(f"client {n} exited ({proc.returncode}): {log[-2000:]}")
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def seed_cards(c: Cluster, workdir: Path, count: int) -> list[str]:
    """Register the cards the readers read; their uids."""
    proc = _client(0, c, workdir, ["seed", str(count)])
    uids: list[str] = _line(proc, 0)["uids"]
    proc.wait(60)
    return uids


def measure_mixed(
    c: Cluster, storage: Storage, uids: list[str], workdir: Path, args: argparse.Namespace
) -> Case:
    """``--clients`` client processes running the 90/10 mix at once."""
    mode = ["mix", "{n}", json.dumps(uids), str(WRITE_SHARE)]
    clients = [
        _client(n, c, workdir, [a.format(n=n) for a in mode]) for n in range(1, args.clients + 1)
    ]
    try:
        for n, proc in enumerate(clients, 1):
            _line(proc, n)  # ready
        categories = _categories(c, storage) | {
            "clients": lambda: _descendants(p.pid for p in clients)
        }
        before, writes_before = c.requests(), storage_writes(storage.log.read_text())
        with CpuSampler(categories) as sampler:
            deadline = time.time() + args.seconds
            for proc in clients:
                assert proc.stdin is not None
                proc.stdin.write(json.dumps({"deadline": deadline}) + "\n")
                proc.stdin.flush()
            results = [_line(proc, n) for n, proc in enumerate(clients, 1)]
        for proc in clients:
            proc.wait(60)
    finally:
        for proc in clients:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
    writes = storage_writes(storage.log.read_text()) - writes_before
    latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for result in results:
        for kind in KINDS:
            latencies[kind] += result["latencies"][kind]
    every = [x for kind in KINDS for x in latencies[kind]]
    window = max(r["end"] for r in results) - min(r["start"] for r in results)
    errors = sum(r["error_count"] for r in results)
    case = Case(
        rate=len(every) / window if window > 0 else 0.0,
        p50=percentile(every, 50),
        p99=percentile(every, 99),
        count=len(every),
        http_requests=c.requests() - before,
        errors=errors,
        cpu={k: sampler.totals.total(k) for k in categories},
        seconds=window,
        latencies={
            kind: {
                "count": len(xs),
                "rate": len(xs) / window if window > 0 else 0.0,
                "p50": percentile(xs, 50),
                "p99": percentile(xs, 99),
            }
            for kind, xs in latencies.items()
        },
        storage_writes=writes,
        registrations=len(latencies["register"]),
        error_text="\n".join(e for r in results for e in r["errors"])[:4000],
    )
    print(
        f"[bench]   mixed: {case.rate:.0f} ops/s, p50 {case.p50 * 1000:.1f} ms, p99 "
        f"{case.p99 * 1000:.1f} ms, {case.http_requests / max(case.count, 1):.2f} HTTP "
        f"requests/op, server {case.per('server'):.3f} ms/op, errors {case.errors}",
        flush=True,
    )
    return case


# -- the report --------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _layout(g: Group) -> str:
    s = "s" if g.replicas > 1 else ""
    w = "s" if g.workers > 1 else ""
    return f"{g.total} ({g.replicas} replica{s} x {g.workers} worker{w})"


def report(groups: list[Group], args: argparse.Namespace) -> tuple[list[str], bool]:
    """The section's tables and projection, and whether the run had no error."""
    ok = all(not g.error for g in groups)
    read_rates = {g.total: g.reads.rate for g in groups if g.reads}
    mixed_rates = {g.total: g.mixed.rate for g in groups if g.mixed}
    read_scale, mixed_scale = scaling(read_rates), scaling(mixed_rates)
    lines = [
        "### GET card metadata through HAProxy (wrk)",
        "",
        "| workers | req/s | speedup | gain per added worker | p50 ms | p99 ms | server CPU "
        "ms/req | PostgreSQL CPU ms/req | HAProxy CPU ms/req | cores busy | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for g in groups:
        if g.error or not g.reads:
            lines.append(f"| {_layout(g)} | error: {g.error or 'not measured'} ||||||||||")
            continue
        r = g.reads
        speedup, gain = read_scale[g.total]
        ok = ok and r.errors == 0
        lines.append(
            f"| {_layout(g)} | {r.rate:.0f} | {speedup:.2f} | {gain:.2f} | {_ms(r.p50)} "
            f"| {_ms(r.p99)} | {r.per('server'):.3f} | {r.per('postgres'):.3f} "
            f"| {r.per('haproxy'):.3f} | {r.cores:.2f} | {r.errors or 0} |"
        )
    lines += [
        "",
        f"### Mixed workload: {args.clients} client processes, 90 % reads, 10 % registrations",
        "",
        "| workers | ops/s | speedup | gain per added worker | p50 ms | p99 ms | HTTP req/op "
        "| server CPU ms/op | PostgreSQL CPU ms/op | HAProxy CPU ms/op | S3 emulator CPU ms/op "
        "| client CPU ms/op | bucket writes/registration | cores busy | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for g in groups:
        if g.error or not g.mixed:
            lines.append(f"| {_layout(g)} | error: {g.error or 'not measured'} ||||||||||||||")
            continue
        m = g.mixed
        speedup, gain = mixed_scale[g.total]
        ok = ok and m.errors == 0
        lines.append(
            f"| {_layout(g)} | {m.rate:.0f} | {speedup:.2f} | {gain:.2f} | {_ms(m.p50)} "
            f"| {_ms(m.p99)} | {m.http_requests / max(m.count, 1):.2f} | {m.per('server'):.3f} "
            f"| {m.per('postgres'):.3f} | {m.per('haproxy'):.3f} | {m.per('storage'):.3f} "
            f"| {m.per('clients'):.3f} | {m.storage_writes / max(m.registrations, 1):.1f} "
            f"| {m.cores:.2f} | {m.errors} |"
        )
    lines += ["", "Per operation kind (ops/s, p50 / p99 ms):", ""]
    lines += ["| workers | " + " | ".join(KINDS) + " |", "|---|" + "---|" * len(KINDS)]
    for g in groups:
        if g.mixed:
            cells = [
                f"{v['rate']:.0f}: {_ms(v['p50'])} / {_ms(v['p99'])}"
                for v in (g.mixed.latencies[k] for k in KINDS)
            ]
            lines.append(f"| {_layout(g)} | " + " | ".join(cells) + " |")
    measured = [g for g in groups if g.reads and g.mixed]
    if measured:
        # One worker per core, as on a host sized by the projection: the group with the
        # fewest workers per core is the least disturbed by oversubscription.
        base = min(measured, key=lambda g: g.total)
        assert base.reads
        assert base.mixed
        reads = Figures(
            base.reads.per("server"), base.reads.per("postgres"), base.reads.per("haproxy")
        )
        mixed = Figures(
            base.mixed.per("server"), base.mixed.per("postgres"), base.mixed.per("haproxy")
        )
        writes = base.mixed.storage_writes / max(base.mixed.registrations, 1)
        lines += [
            "",
            f"### Projection on paper (from the {base.total}-worker group's CPU per request)",
            "",
            *projection(reads, mixed, WRITE_SHARE, writes),
        ]
    return lines, ok


# -- main --------------------------------------------------------------------------------------


def main() -> int:
    """Measure each layout and write the ``load-balancer`` section."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 s per case, 2 clients")
    parser.add_argument("--seconds", type=float, help="seconds of load per case (default 20)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--clients", type=int, help="mixed-workload client processes (4)")
    parser.add_argument("--seed", type=int, default=20, help="cards registered to read")
    parser.add_argument("--only", action="append", help="1x1, 2x1, 2x2 (repeatable; default all)")
    parser.add_argument("--no-setup", action="store_true", help="do not run setup_venvs.sh")
    parser.add_argument(
        "--results",
        type=Path,
        help="report to write the section into (default: benchmarks/RESULTS.md for a full "
        "run, else benchmarks/.work/RESULTS-partial.md)",
    )
    add_load_arguments(parser)
    args = parser.parse_args()
    args.seconds = args.seconds or (3.0 if args.quick else 20.0)
    args.clients = args.clients or (2 if args.quick else 4)
    WORK.mkdir(parents=True, exist_ok=True)
    if not args.no_setup:
        subprocess.run(["bash", str(BENCH / "setup_venvs.sh"), "ours", "wrk"], check=True)
    missing = [
        what
        for what, there in (
            ("wrk (bash benchmarks/setup_venvs.sh wrk)", shutil.which("wrk")),
            ("haproxy (bash scripts/install-haproxy.sh)", shutil.which("haproxy")),
            ("moto in this interpreter (the dev venv)", importlib.util.find_spec("moto")),
        )
        if not there
    ]
    if missing:
        print(f"[bench] missing: {', '.join(missing)}")
        return 1
    gate, date, command = gate_from(args), now_utc(), command_line()
    layouts = [x for x in LAYOUTS if not args.only or x[0] in args.only]
    groups: list[Group] = []
    work = Path(tempfile.mkdtemp(prefix="opsml-lb-bench-"))
    try:
        with s3_emulator(work) as storage:
            for key, replicas, workers in layouts:
                group = Group(key, replicas, workers)
                groups.append(group)
                print(f"[bench] {_layout(group)}")
                try:
                    with cluster(work, storage, key, replicas, workers) as c:
                        uids = seed_cards(c, work, args.seed)
                        own = CpuSampler(_categories(c, storage)).so_far
                        group.reads = gate.measure(
                            f"{key} GET metadata",
                            partial(measure_reads, c, storage, uids[0], args),
                            own=own,
                        )
                        group.mixed = gate.measure(
                            f"{key} mixed",
                            partial(measure_mixed, c, storage, uids, work, args),
                            own=own,
                        )
                    if group.mixed.errors:
                        group.error = f"{group.mixed.errors} client error(s)"
                        print(f"[bench] client errors:\n{group.mixed.error_text}")
                except Exception as exc:  # reported in the section; the other groups go on
                    group.error = f"{type(exc).__name__}: {exc}"
                    print(f"[bench] {key}: {group.error}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    raw = [asdict(g) for g in groups]
    (WORK / "load-balancer.json").write_text(json.dumps(raw, indent=1) + "\n")
    table, ok = report(groups, args)
    reference = (
        not args.quick
        and not args.only
        and (args.seconds, args.clients, args.connections, args.seed) == (20, 4, 32, 20)
    )
    lines = [
        "## Replicas behind HAProxy: 1, 2 and 4 workers (issue 24)",
        "",
        *section_header(gate, date, command),
        "",
        "HAProxy (round robin, keep-alive) in front of `opsml server start` replicas "
        "(`.bench-venvs/ours`, no authentication, JSON logs, metrics on) on one PostgreSQL "
        "(the machine's, loopback, a fresh database per group) and moto's S3 server (a fresh "
        f"prefix per group); {args.seed} small DataCards registered first. Workers in total: "
        "1 (1 replica x 1 worker), 2 (2 replicas x 1 worker), 4 (2 replicas x 2 workers). "
        f"GET metadata: wrk 2 threads, {args.connections} connections, {args.seconds:g} s "
        "after a 2 s warm-up. Mixed: "
        f"{args.clients} processes of opsml's Python client (client mode through HAProxy), "
        f"each running operations back to back for {args.seconds:g} s after one of each as "
        "warm-up: 10 % `register_card` of a DataCard of 100 floats (its file to the bucket "
        "by presigned URL), 45 % `load_card(uid=…)`, 45 % `list_cards(space, name)` (25 "
        "rows); latencies measured in the clients. Everything runs on this machine's cores "
        "(wrk, clients, HAProxy, PostgreSQL, the emulator and the servers): requests/s "
        "show how far the workers scale here, CPU per request (`/proc/PID/stat`, sampled "
        "every 0.2 s; PostgreSQL: the backends connected to the group's database, not its "
        "shared WAL writer and checkpointer) is what the projection uses. Speedup is "
        "requests/s over the 1-worker group; gain per added worker is (speedup - 1) / "
        "(workers - 1): 1.00 when each added worker adds as much as the first. Cores busy: "
        "the CPU of every measured process (servers, PostgreSQL backends, HAProxy, the "
        "emulator, and wrk or the clients) over the case's duration; near the machine's "
        "core count, the cores were the limit, not the workers. "
        f"Errors: **{'none' if ok else 'SOME, the run FAILED'}**.",
        "",
        *table,
    ]
    path = results_path(args.results, reference=reference)
    write_section(path, SECTION, lines)
    print(f"[bench] section {SECTION} written to {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
