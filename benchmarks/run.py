"""Run the registry benchmark: ours, OpsML 3 and MLflow side by side, in one run.

Each peer runs in its own virtualenv (``benchmarks/setup_venvs.sh`` builds them under
``.bench-venvs/``), as subprocesses with a fresh temporary working directory that also holds
its HOME, XDG directories, SQLite database and artifact folder. The light cases (model
register/load, queries, import) run in one process per round, over several rounds; each
heavy group (the 160 MB DataFrame, its data profile, client mode with requests/s) runs once,
in a process of its own. A peer script prints one JSON object of samples; this script takes
medians, computes the ratios ours / peer from the same run, prints a table and writes
``benchmarks/RESULTS.md``.

Usage::

    python benchmarks/run.py                 # full run (what ``make bench`` does)
    python benchmarks/run.py --quick         # fewer repetitions, smaller sizes
    python benchmarks/run.py --only opsml3   # one peer (repeat --only for more)
    python benchmarks/run.py --only data     # one group of cases (combinable with peers)

Standard library only: it runs under any Python 3.11+.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
PEERS_DIR = BENCH / "peers"
VENVS = Path(os.environ.get("BENCH_VENVS", ROOT / ".bench-venvs"))
WORK = BENCH / ".work"
RESULTS = BENCH / "RESULTS.md"
PEER_TIMEOUT = 1200  # seconds; the slowest peer process (OpsML 3's profiles) takes ~2 min

# Groups of cases, as the peer scripts' --cases and this script's --only know them.
LIGHT = ("register", "load", "query", "import")  # one process per round, samples pooled
HEAVY = (("data",), ("profile",), ("client", "rps"))  # one process per group, run once
GROUPS = (*LIGHT, *(group for process in HEAVY for group in process))


@dataclass(frozen=True)
class Peer:
    """One registry under test."""

    name: str
    label: str
    script: str
    full: dict[str, int]
    quick: dict[str, int]
    repeat: bool = True  # run again in later rounds (MLflow: once is enough, and slow)
    groups: tuple[str, ...] = GROUPS  # the case groups its script measures


_OPSML_FULL = {
    "register-n": 30,
    "load-n": 30,
    "warmup": 2,
    "seed-cards": 100_000,
    "query-versions": 100,
    "query-n": 200,
    "import-n": 10,
    "data-rows": 2_000_000,
    "data-n": 5,
    "profile-n": 3,
    "client-n": 30,
    "client-data-n": 5,
    "rps-seconds": 10,
    "rps-connections": 16,
    "rps-runs": 3,
}
_OPSML_QUICK = {**_OPSML_FULL, "register-n": 10, "load-n": 10, "warmup": 1}
_OPSML_QUICK |= {"seed-cards": 10_000, "query-n": 50, "import-n": 5}
_OPSML_QUICK |= {"data-rows": 200_000, "data-n": 3, "client-n": 10, "client-data-n": 3}
_OPSML_QUICK |= {"rps-seconds": 3, "rps-runs": 1}

PEERS: dict[str, Peer] = {
    "ours": Peer("ours", "ours", "ours_bench.py", _OPSML_FULL, _OPSML_QUICK),
    "opsml3": Peer("opsml3", "OpsML 3", "opsml3_bench.py", _OPSML_FULL, _OPSML_QUICK),
    "mlflow": Peer(
        "mlflow",
        "MLflow",
        "mlflow_bench.py",
        {"register-n": 5, "load-n": 10, "warmup": 1, "import-n": 10},
        {"register-n": 2, "load-n": 3, "warmup": 1, "import-n": 3},
        repeat=False,
        groups=LIGHT,
    ),
}


@dataclass(frozen=True)
class Case:
    """One row of the report: a measured quantity, and the target ours must meet.

    Targets: ``ratio_to`` (ours / that peer <= ``limit``), ``baseline`` (ours / ours' own
    median of that case <= ``limit``), or ``limit`` alone (ours' median < ``limit``, in
    ``unit``). Without any, the row is reported without a verdict ("info").
    """

    key: str
    group: str  # the group of cases (--only NAME) that measures it
    label: str
    target: str
    ratio_to: str | None = None
    baseline: str | None = None
    limit: float | None = None
    unit: str = "ms"  # samples are seconds ("ms"), bytes ("MB") or requests/s ("req/s")
    sources: tuple[str, ...] = ()  # result entries that hold this case's error, if any


_CLIENT = ("client_setup",)
CASES = (
    Case(
        "register", "register", "register one ModelCard", "ours / OpsML 3 <= 1.0", ratio_to="opsml3"
    ),
    Case("load", "load", "load_card + card.load()", "ours / OpsML 3 <= 1.0", ratio_to="opsml3"),
    Case(
        "list_cards",
        "query",
        "list_cards(space, name), {n} cards",
        "ours < 2 ms",
        limit=2.0,
        sources=("query_setup",),
    ),
    Case(
        "load_card",
        "query",
        'load_card(space, name, "1.*"), {n} cards',
        "ours < 2 ms",
        limit=2.0,
        sources=("query_setup",),
    ),
    Case("import", "import", "import (fresh interpreter)", "ours < 150 ms", limit=150.0),
    Case(
        "data_register",
        "data",
        "register DataCard(PandasData), {frame}",
        "ours / to_parquet <= 1.1",
        baseline="data_to_parquet",
        limit=1.1,
        sources=("data",),
    ),
    Case(
        "data_to_parquet", "data", "... pandas `df.to_parquet(path)`", "baseline", sources=("data",)
    ),
    Case(
        "data_load",
        "data",
        "load_card + card.load(), {frame}",
        "ours / read_parquet <= 1.2",
        baseline="data_read_parquet",
        limit=1.2,
        sources=("data",),
    ),
    Case(
        "data_read_parquet",
        "data",
        "... pandas `pd.read_parquet(path)`",
        "baseline",
        sources=("data",),
    ),
    Case(
        "profile",
        "profile",
        "create_data_profile(), {frame}",
        "ours / OpsML 3 <= 1.0 (*)",
        ratio_to="opsml3",
    ),
    Case(
        "profile_memory",
        "profile",
        "... its peak extra RSS (MB)",
        "ours / OpsML 3 <= 1.0 (*)",
        ratio_to="opsml3",
        unit="MB",
        sources=("profile",),
    ),
    Case(
        "client_register",
        "client",
        "client: register one ModelCard",
        "ours / OpsML 3 <= 1.0",
        ratio_to="opsml3",
        sources=_CLIENT,
    ),
    Case(
        "client_load",
        "client",
        "client: load_card + card.load()",
        "ours / OpsML 3 <= 1.0",
        ratio_to="opsml3",
        sources=_CLIENT,
    ),
    Case(
        "client_data_register",
        "client",
        "client: register DataCard, {frame}",
        "ours / ours local <= 1.3",
        baseline="client_local_register",
        limit=1.3,
        sources=("client_data", *_CLIENT),
    ),
    Case(
        "client_local_register",
        "client",
        "... the same in local mode, paired",
        "baseline",
        sources=("client_data", *_CLIENT),
    ),
    Case(
        "client_data_load",
        "client",
        "client: load_card + card.load(), {frame}",
        "ours / ours local <= 1.3",
        baseline="client_local_load",
        limit=1.3,
        sources=("client_data", *_CLIENT),
    ),
    Case(
        "client_local_load",
        "client",
        "... the same in local mode, paired",
        "baseline",
        sources=("client_data", *_CLIENT),
    ),
    Case(
        "client_data_load_cold",
        "client",
        "... the client load with its cache off (`OPSML_CACHE_MAX_BYTES=0`)",
        "report",
        sources=("client_data", *_CLIENT),
    ),
    Case(
        "rps",
        "rps",
        "client: GET card metadata (req/s, higher is better)",
        "report",
        unit="req/s",
        sources=_CLIENT,
    ),
    Case("rps_p50", "rps", "... its p50 latency", "report", sources=("rps", *_CLIENT)),
    Case("rps_p99", "rps", "... its p99 latency", "report", sources=("rps", *_CLIENT)),
)


@dataclass
class PeerRun:
    """What one peer's subprocess produced."""

    peer: Peer
    python: Path
    cases: dict[str, Any] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)
    python_version: str = "-"
    error: str | None = None
    failed: set[str] = field(default_factory=set)  # groups of cases whose process failed
    seconds: float = 0.0
    rounds: int = 1

    def absorb(self, other: PeerRun, new_round: bool = True) -> None:
        """Pool another process's samples into this one (other facts: the first one's).

        ``new_round``: ``other`` is a later round of the light cases (counted in
        :attr:`rounds`), not a group of heavy cases.
        """
        for key, entry in other.cases.items():
            mine = self.cases.setdefault(key, entry)
            if mine is entry:
                continue
            if "samples" in mine and "samples" in entry:
                mine["samples"] = mine["samples"] + entry["samples"]
            for count in ("registered", "distinct_versions"):  # each round has its own registry
                if count in mine and count in entry:
                    mine[count] += entry[count]
            if "error" in entry:
                mine.setdefault("error", entry["error"])
        self.error = self.error or other.error
        self.failed |= other.failed
        self.seconds += other.seconds
        if new_round:
            self.rounds += 1

    def samples(self, key: str) -> list[float] | None:
        """The case's samples (seconds), or None if it was not measured."""
        entry = self.cases.get(key, {})
        samples = entry.get("samples")
        return samples if samples else None

    def median(self, key: str) -> float | None:
        """Median of the case's samples in seconds, or None."""
        samples = self.samples(key)
        return statistics.median(samples) if samples else None

    def problem(self, case: Case) -> str:
        """Why a case has no number: "error", "skipped" or "-" (not measured)."""
        entries = [self.cases[k] for k in (case.key, *case.sources) if k in self.cases]
        for entry in entries:
            if "skipped" in entry:
                return "skipped"
            if "error" in entry:
                return "error"
        return "error" if not entries and case.group in self.failed else "-"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line of the orchestrator."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions, smaller sizes, 10 000 cards"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[*PEERS, *GROUPS],
        metavar="NAME",
        help=f"run only this peer ({', '.join(PEERS)}) or group of cases "
        f"({', '.join(GROUPS)}); repeatable, peers and groups combine",
    )
    parser.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="use this interpreter for a peer instead of .bench-venvs/NAME (skips its setup)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="runs per peer, in alternating order, samples pooled (default 4; --quick: 1; "
        "MLflow runs once)",
    )
    parser.add_argument("--no-setup", action="store_true", help="do not run setup_venvs.sh")
    parser.add_argument(
        "--results",
        type=Path,
        help="report path (default: benchmarks/RESULTS.md for a full run of all peers, "
        "else benchmarks/.work/RESULTS-partial.md)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the peers' temp work dirs")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target FAILs")
    return parser.parse_args(argv)


def setup_venv(name: str) -> str | None:
    """Run ``setup_venvs.sh NAME``; return an error message on failure."""
    proc = subprocess.run(["bash", str(BENCH / "setup_venvs.sh"), name], check=False)
    return None if proc.returncode == 0 else f"setup_venvs.sh {name} exited {proc.returncode}"


def peer_env(workdir: Path) -> dict[str, str]:
    """The environment of a peer: ours minus Python/registry settings, homed in ``workdir``."""
    prefixes = ("PYTHON", "VIRTUAL_ENV", "OPSML_", "MLFLOW_", "APP_ENV", "CONDA")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    home = workdir / "home"
    for sub in ("config", "cache", "data", "state", "tmp"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    env |= {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "TMPDIR": str(home / "tmp"),
        "OPSML_TRACKING_URI": f"sqlite:///{workdir / 'opsml.db'}",
        "OPSML_STORAGE_URI": str(workdir / "opsml_registries"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }
    return env


def run_peer(
    peer: Peer, python: Path, quick: bool, keep: bool, cases: list[str], tag: str
) -> PeerRun:
    """Run one peer script on ``cases`` in a fresh temp dir; parse its JSON.

    ``tag`` names the process in messages and files: the round number, or the heavy group.
    """
    result = PeerRun(peer, python)
    counts = peer.quick if quick else peer.full
    cmd = [str(python), str(PEERS_DIR / peer.script), "--cases", ",".join(cases)]
    for key, value in counts.items():
        cmd += [f"--{key}", str(value)]
    workdir = Path(tempfile.mkdtemp(prefix=f"opsml-bench-{peer.name}-"))
    log_path = WORK / f"{peer.name}-{tag}.log"
    what = f"round {tag}" if tag.isdigit() else tag
    where = f"{python}; log {log_path.relative_to(ROOT)}"
    print(f"[bench] {peer.label} ({what}): running ({where})")
    start = time.perf_counter()
    try:
        with log_path.open("w") as log:
            proc = subprocess.run(
                cmd,
                cwd=workdir,
                env=peer_env(workdir),
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                timeout=PEER_TIMEOUT,
                check=False,
            )
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        if lines:
            payload = json.loads(lines[-1])
            result.cases = payload.get("cases", {})
            result.packages = payload.get("packages", {})
            result.python_version = payload.get("python", "-")
            (WORK / f"{peer.name}-{tag}.json").write_text(json.dumps(payload, indent=1) + "\n")
        if proc.returncode != 0:
            result.error = f"exited {proc.returncode}; see {log_path.relative_to(ROOT)}"
    except (subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        result.seconds = time.perf_counter() - start
        if keep:
            print(f"[bench] {peer.label}: work dir kept at {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if result.error:
        result.failed = set(cases)
    for key, entry in result.cases.items():
        if isinstance(entry, dict) and "error" in entry:
            print(f"[bench] {peer.label}: case {key} failed: {entry['error']}")
    status = f"failed: {result.error}" if result.error else "done"
    print(f"[bench] {peer.label} ({what}): {status} in {result.seconds:.0f} s")
    return result


def fmt_ms(seconds: float | None) -> str:
    """Milliseconds with three significant digits (no exponent)."""
    if seconds is None:
        return "-"
    ms = seconds * 1000
    if ms >= 100:
        return f"{ms:.0f}"
    return f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def fmt_ratio(value: float | None) -> str:
    """A ratio with two decimals, or two significant digits when tiny."""
    if value is None:
        return "-"
    return f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"


def fmt_value(value: float | None, unit: str) -> str:
    """A median in the case's unit: seconds as ms, bytes as MB, requests/s as is."""
    if value is None:
        return "-"
    if unit == "MB":
        return f"{value / 1e6:.0f}" if value >= 10e6 else f"{value / 1e6:.1f}"
    if unit == "req/s":
        return f"{value:.0f}"
    return fmt_ms(value)


def cell(run: PeerRun | None, case: Case) -> str:
    """A table cell: the median in the case's unit, or why there is none."""
    if run is None:
        return "not run"
    median = run.median(case.key)
    return fmt_value(median, case.unit) if median is not None else run.problem(case)


def ratio(runs: dict[str, PeerRun], key: str, peer: str) -> float | None:
    """ours / peer for a case, both measured in this run."""
    if "ours" not in runs or peer not in runs:
        return None
    ours, other = runs["ours"].median(key), runs[peer].median(key)
    if ours is None or other is None or other == 0:
        return None
    return ours / other


def own_ratio(run: PeerRun | None, key: str, baseline: str) -> float | None:
    """A peer's median of ``key`` over its median of ``baseline`` (same run)."""
    if run is None:
        return None
    value, base = run.median(key), run.median(baseline)
    if value is None or not base:
        return None
    return value / base


def verdict(runs: dict[str, PeerRun], case: Case) -> tuple[str, str]:
    """(measured value, PASS/FAIL/ERROR/n/a/info) of the case's target."""
    ours = runs.get("ours")
    if ours is not None and ours.median(case.key) is None and ours.problem(case) == "error":
        return "-", "ERROR"
    limit = 1.0 if case.limit is None else case.limit
    if case.ratio_to is not None or case.baseline is not None:
        if case.ratio_to is not None:
            value = ratio(runs, case.key, case.ratio_to)
        else:
            value = own_ratio(ours, case.key, str(case.baseline))
        if value is None:
            return "-", "n/a"
        return f"{value:.2f}", "PASS" if value <= limit else "FAIL"
    median = ours.median(case.key) if ours is not None else None
    if case.limit is None:
        return "-", "-" if case.target == "baseline" else "info"
    if median is None:
        return "-", "n/a"
    shown = f"{fmt_value(median, case.unit)} {case.unit}"
    return shown, "PASS" if median * 1000 < case.limit else "FAIL"


def frame_label(runs: dict[str, PeerRun]) -> str:
    """The data cases' frame as measured ("2 000 000 x 10 float64, 160 MB")."""
    for run in runs.values():
        for key in ("data", "client_data", "profile"):
            rows = run.cases.get(key, {}).get("rows")
            if rows:
                count = f"{rows:,}".replace(",", " ")
                return f"{count} x 10 float64, {rows * 80 / 1e6:.0f} MB"
    return "DataFrame"


def seed_count(runs: dict[str, PeerRun]) -> str:
    """The card count of the query cases, as measured ("100 000")."""
    for run in runs.values():
        rows = run.cases.get("query_setup", {}).get("table_rows")
        if rows:
            return f"{rows:,}".replace(",", " ")
    return "N"


def results_table(runs: dict[str, PeerRun], order: list[str], groups: list[str]) -> list[list[str]]:
    """Header plus one row per case of ``groups``: medians, ratios, target, status."""
    others = [name for name in order if name != "ours"]
    header = ["case", *(PEERS[n].label for n in order)]
    header += [f"ours / {PEERS[n].label}" for n in others] if "ours" in order else []
    header += ["target", "value", "status"]
    rows = [header]
    n, frame = seed_count(runs), frame_label(runs)
    for case in (c for c in CASES if c.group in groups):
        label = case.label.format(n=n, frame=frame)
        row = [label, *(cell(runs.get(name), case) for name in order)]
        if "ours" in order:
            for name in others:
                row.append(fmt_ratio(ratio(runs, case.key, name)))
        row += [case.target, *verdict(runs, case)]
        rows.append(row)
    return rows


def print_table(rows: list[list[str]]) -> None:
    """Plain aligned text table on stdout."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def markdown_table(rows: list[list[str]]) -> str:
    """GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def machine() -> dict[str, str]:
    """Core count, CPU model, OS and the orchestrator's Python."""
    cpu = "-"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def command_line() -> str:
    """The command that produced this run (interpreter relative to the repo when inside it)."""
    exe = Path(sys.executable)
    python = str(exe.relative_to(ROOT)) if exe.is_relative_to(ROOT) else "python"
    cmd = " ".join([python, *(shlex.quote(a) for a in sys.argv)])
    return f"make bench  ({cmd})" if os.environ.get("MAKELEVEL") else cmd


def notes(runs: dict[str, PeerRun], quick: bool, groups: list[str]) -> list[str]:
    """Method notes and per-run facts (sample counts, seeding, OpsML 3's duplicates)."""
    out = [
        "Times are medians of `time.perf_counter()` samples, in milliseconds; ratios are "
        "ours / peer from this same run (below 1.0: ours is faster; for requests/s above "
        "1.0 is better).",
        "Model: `RandomForestClassifier(n_estimators=5)` fitted on "
        "`make_classification(n_samples=1000, n_features=4)`; sample data = first 5 rows.",
        "register: `register_card` alone (building the card object is not timed), after "
        "warm-up registrations that also create the database. MLflow: `with "
        "mlflow.start_run(): mlflow.sklearn.log_model(clf, name=..., input_example=X[:5], "
        'registered_model_name=..., skops_trusted_types=["sklearn.tree._tree.Tree"])`.',
        "load: `load_card(space, name, version=<exact>)` + `card.load()`, cycling over the "
        "versions registered above that belong to exactly one card (OpsML 3 can give several "
        "cards one version; loading that version then fails with `Failed to decrypt file`); "
        'MLflow: `mlflow.sklearn.load_model("models:/name/<version>")`.',
        'list_cards / load_card: metadata only (`limit=25`; `load_card(..., version="1.*")`). '
        "The measured name has 100 versions (1.0.0 ... 10.9.0) registered through the public "
        "API; the rest of the table is bulk-inserted with SQL (`INSERT ... SELECT` cloning a "
        "registered row into names of 100 versions each over 10 spaces, one of them the "
        "measured card's; columns discovered at run time). MLflow is skipped here: it has no "
        "comparable card table to seed.",
        "import: wall time of `python -c 'import <pkg>'` minus `python -c pass`, fresh "
        "interpreters, median of pairwise differences (`import opsml`; `import mlflow`).",
        "DataFrame cases (issue 3): the frame is `numpy.random.default_rng(42)"
        ".standard_normal((rows, 10))` in a DataFrame whose column labels are an object-dtype "
        "Index (OpsML 3's profiler rejects pandas 3's default `str` Index with 'Column names "
        "must be strings'), the same in both peers. register: `register_card(DataCard("
        "interface=PandasData(data=df), ...))` alone (a new name per card: OpsML 3 can give "
        "quick registrations of one name the same version, which then fail to load), paired "
        "in every sample with "
        "`df.to_parquet(path)` (pandas' defaults: pyarrow, snappy) into the peer's work dir "
        "next to its registry (same disk), the order of the two alternating; 1 warm-up pair, "
        "then the samples. load: `load_card(uid=...)` + `card.load()` of those cards, paired "
        "with `pd.read_parquet` of the files just written (both read from the page cache); "
        "the first of each is checked with `DataFrame.equals`. Ratios to pandas are ratios "
        "of the medians of the same process.",
        "Data profile: `PandasData(data=df).create_data_profile()` (defaults: 20 bins, no "
        "correlations), each sample a fresh interpreter; time of that call, and peak extra "
        "RSS = `VmHWM` after the call minus `VmRSS` just before it (`/proc/self/status`), "
        "the high-water mark reset first (`echo 5 > /proc/self/clear_refs`) so building the "
        "frame does not count. (*) The issue asks for the profile's time and memory vs "
        "OpsML 3 without a number; the target shown is 'no worse than OpsML 3'.",
        "Client mode (issue 4): each peer's own `opsml.mock.OpsmlTestServer`. Ours starts "
        "`python -m opsml.server` (uvicorn, one worker, log level info) on a free port with a "
        "temporary SQLite database and storage folder, and points `OPSML_TRACKING_URI` at "
        "it; OpsML 3 runs its Rust server in threads of the client process itself, on port "
        "3000. Model register/load as in local mode. The DataFrame: each sample registers "
        "(loads) it through the server and, in the same process, with a local-mode registry "
        "created before the server started (the order alternating), 1 warm-up pair, then the "
        "samples; the targets divide the client medians by those local ones. Not paired for "
        "OpsML 3 (skipped): a registry it creates in local mode before its test server starts "
        "uses the server's storage once the server runs (same timings as its client "
        "registry, and same-name cards of the two overwrite each other's files). Ours keeps "
        "the files a client registered or downloaded in its cache (docs/server.md, 'The "
        "client's cache'), so the client loads above read the frame from there, as a user "
        "reloading what they registered does; the row 'cache off' loads the same cards with "
        "`OPSML_CACHE_MAX_BYTES=0`, every byte through the server, as a first load on another "
        "machine (OpsML 3 has no such cache: its two rows measure the same thing).",
        "GET card metadata under load: ours `GET /opsml/api/model/cards/{uid}` (no auth "
        "configured: guest); OpsML 3 `GET /opsml/api/card/metadata?uid=...&registry_type="
        "Model` (the endpoint its client reads a card's metadata from; it reads `card.json` "
        "from storage and decrypts it on every request), with the bearer token of its test "
        "server's default user and a `User-Agent` header (it answers 400 without one). The "
        "load generator runs on the same 2 cores as the server, after a 1 s warm-up.",
        "Every peer runs in its own virtualenv under `.bench-venvs/` (ours: `pip install -e "
        ".[sklearn,pandas,server]`), one process after the other, each in a fresh temporary "
        "directory that holds its HOME/XDG dirs, SQLite database and local artifact folder. "
        "ours and OpsML 3 run the light cases (model register/load, queries, import) in "
        "several rounds in alternating order (ours, OpsML 3, OpsML 3, ours, ...) with their "
        "samples pooled, so load from other processes does not fall on one peer only; each "
        "heavy group (DataFrame, profile, client mode) runs once per peer in a process of "
        "its own, the peer order alternating between groups; MLflow runs the light cases "
        "once.",
    ]
    if quick:
        out.append(
            "**Quick run** (`--quick`): fewer samples, 10 000 cards and a 200 000-row frame; "
            "not a reference run."
        )
    if groups != list(GROUPS):
        out.append(f"Partial run: only the groups {', '.join(groups)}.")
    for run in runs.values():
        counts = ", ".join(
            f"{key} {len(run.samples(key) or [])}"
            for key in (c.key for c in CASES)
            if run.samples(key)
        )
        if counts:
            rounds = f" (light cases: {run.rounds} rounds pooled)" if run.rounds > 1 else ""
            out.append(f"{run.peer.label} samples{rounds}: {counts}.")
        reg = run.cases.get("register", {})
        if reg.get("registered") and reg.get("distinct_versions") != reg.get("registered"):
            out.append(
                f"{run.peer.label} handed out {reg['distinct_versions']} distinct versions for "
                f"{reg['registered']} sequential registrations of one name (duplicate versions)."
            )
        setup = run.cases.get("query_setup", {})
        if "seconds" in setup:
            out.append(
                f"{run.peer.label} seeding: {setup['inserted']} rows in {setup['seconds']:.2f} s "
                f"({setup['table_rows']} in the table); sanity check {setup.get('check')}."
            )
        baseline = run.cases.get("import", {}).get("raw_baseline")
        if baseline:
            base = statistics.median(baseline) * 1000
            out.append(f"{run.peer.label}: `python -c pass` median {base:.1f} ms.")
        out += peer_facts(run)
    return out


def peer_facts(run: PeerRun) -> list[str]:
    """Per-peer facts of the heavy cases: own ratios to pandas, server start, load tool."""
    label, out = run.peer.label, []
    pairs = [
        ("register / to_parquet", "data_register", "data_to_parquet"),
        ("load / read_parquet", "data_load", "data_read_parquet"),
        ("client register / local register", "client_data_register", "client_local_register"),
        ("client load / local load", "client_data_load", "client_local_load"),
        ("client load, cache off / local load", "client_data_load_cold", "client_local_load"),
        # Unpaired (OpsML 3): over the medians of its data group.
        ("client register / local register (data group)", "client_data_register", "data_register"),
        ("client load / local load (data group)", "client_data_load", "data_load"),
    ]
    if "samples" in run.cases.get("client_local_register", {}):
        pairs = pairs[:5]
    ratios = [
        f"{name} {value:.2f}"
        for name, key, base in pairs
        if (value := own_ratio(run, key, base)) is not None
    ]
    if ratios:
        out.append(f"{label}, DataFrame medians relative to its own: {', '.join(ratios)}.")
    if run.cases.get("profile", {}).get("hwm_reset") is False:
        out.append(
            f"{label}: the kernel refused to reset the peak RSS; the profile's peak extra "
            "RSS is measured from the peak of building the frame (a lower bound)."
        )
    setup = run.cases.get("client_setup", {})
    if "startup_seconds" in setup:
        out.append(
            f"{label} test server: up in {setup['startup_seconds']:.2f} s, registry mode "
            f"`{setup.get('mode')}`."
        )
    rps = run.cases.get("rps", {})
    if "tool" in rps:
        per_run = ", ".join(
            f"{r['rps']:.0f} req/s (p50 {r['p50'] * 1000:.1f} ms, p99 {r['p99'] * 1000:.1f} ms)"
            for r in rps["runs"]
        )
        out.append(
            f"{label} load: `{rps['endpoint']}` ({rps['body_bytes']} bytes), {rps['tool']}, "
            f"{len(rps['runs'])} runs, medians in the table: {per_run}."
        )
    return out


def errors(runs: dict[str, PeerRun]) -> list[str]:
    """One line per failed peer or case."""
    out = []
    for run in runs.values():
        if run.error:
            out.append(f"{run.peer.label}: {run.error}")
        for key, entry in run.cases.items():
            if isinstance(entry, dict) and "error" in entry:
                out.append(f"{run.peer.label} / {key}: {entry['error']}")
    return out


def write_report(
    path: Path,
    runs: dict[str, PeerRun],
    rows: list[list[str]],
    quick: bool,
    load: str,
    groups: list[str],
) -> None:
    """Write the Markdown report (``load``: the machine's load average around the run)."""
    info = machine()
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark results",
        "",
        "Generated by `benchmarks/run.py` (see `benchmarks/README.md`); rewritten on every full "
        "run, do not edit by hand.",
        "",
        f"- Date: {now}",
        f"- Command: `{command_line()}`",
        f"- Machine: {info['nproc']} cores (`nproc`), {info['cpu']}, {info['os']}",
        f"- Load average (1 min) at start / end of the run: {load} (other processes add noise)",
        f"- Orchestrator Python: {info['python']}",
        "",
        "## Peers",
        "",
        "| peer | interpreter | Python | packages | wall time of its run |",
        "|---|---|---|---|---|",
    ]
    for run in runs.values():
        packages = ", ".join(f"{k} {v}" for k, v in run.packages.items() if v != "-")
        try:
            interpreter = str(run.python.relative_to(ROOT))
        except ValueError:
            interpreter = str(run.python)
        lines.append(
            f"| {run.peer.label} | `{interpreter}` | {run.python_version} | {packages or '-'} "
            f"| {run.seconds:.0f} s |"
        )
    lines += [
        "",
        "## Results (medians; ms unless the case names another unit)",
        "",
        markdown_table(rows),
        "",
        "## Method and notes",
        "",
    ]
    lines += [f"- {note}" for note in notes(runs, quick, groups)]
    problems = errors(runs)
    if problems:
        lines += ["", "## Errors", ""] + [f"- {p}" for p in problems]
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = kept_sections(path)
    path.write_text("\n".join(lines) + "\n" + "".join(f"\n{section}\n" for section in kept))


_SECTION = re.compile(r"<!-- ([\w-]+):begin -->.*?<!-- \1:end -->", re.DOTALL)


def kept_sections(path: Path) -> list[str]:
    """Sections other benchmark scripts wrote into the report (between ``<!-- NAME:begin -->``
    and ``<!-- NAME:end -->``), kept when this script rewrites it."""
    if not path.exists():
        return []
    return [m.group(0) for m in _SECTION.finditer(path.read_text(encoding="utf-8"))]


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = parse_args(argv)
    only = set(args.only or ())
    order = [name for name in PEERS if name in only or not only & PEERS.keys()]
    groups = [group for group in GROUPS if group in only or not only & set(GROUPS)]
    overrides: dict[str, Path] = {}
    for item in args.python:
        name, sep, path = item.partition("=")
        if not sep or name not in PEERS:
            sys.exit(f"--python expects NAME=PATH with NAME in {sorted(PEERS)}: {item!r}")
        overrides[name] = Path(path).expanduser().absolute()
    WORK.mkdir(parents=True, exist_ok=True)
    for name in order:  # raw files of an earlier run with more rounds would mislead
        for stale in [*WORK.glob(f"{name}-*.json"), *WORK.glob(f"{name}-*.log")]:
            stale.unlink()
    load_before = os.getloadavg()[0]

    runs: dict[str, PeerRun] = {}
    pythons: dict[str, Path] = {}
    for name in order:
        python = overrides.get(name, VENVS / name / "bin" / "python")
        failure = None
        if name not in overrides and not args.no_setup:
            failure = setup_venv(name)
        if failure is None and not python.exists():
            failure = f"no interpreter at {python} (run benchmarks/setup_venvs.sh {name})"
        if failure:
            print(f"[bench] {PEERS[name].label}: {failure}")
            runs[name] = PeerRun(PEERS[name], python, error=failure, failed=set(groups))
        else:
            pythons[name] = python
    if "rps" in groups and not args.no_setup:
        setup_venv("wrk")  # best effort: without wrk the peers use a Python load generator

    def run(name: str, cases: list[str], tag: str, new_round: bool) -> None:
        result = run_peer(PEERS[name], pythons[name], args.quick, args.keep, cases, tag)
        if name in runs:
            runs[name].absorb(result, new_round)
        else:
            runs[name] = result

    # Rounds alternate the order (ours, OpsML 3 | OpsML 3, ours) and pool the samples, so
    # load from other processes on a shared machine does not fall on one peer only.
    rounds = args.rounds or (1 if args.quick else 4)
    for round_ in range(rounds):
        names = [n for n in pythons if round_ == 0 or PEERS[n].repeat]
        for name in reversed(names) if round_ % 2 else names:
            cases = [g for g in groups if g in LIGHT and g in PEERS[name].groups]
            if cases:
                run(name, cases, str(round_ + 1), new_round=round_ > 0)
    # Each heavy group once per peer, in a process of its own, the order alternating too.
    for i, process in enumerate(HEAVY):
        names = list(reversed(pythons)) if i % 2 else list(pythons)
        for name in names:
            cases = [g for g in process if g in groups and g in PEERS[name].groups]
            if cases:
                run(name, cases, process[0], new_round=False)
    order = [name for name in order if name in runs]  # MLflow: not for every group
    runs = {name: runs[name] for name in order}

    rows = results_table(runs, order, groups)
    print()
    print_table(rows)
    full = not args.quick and not args.only
    path = args.results or (RESULTS if full else WORK / "RESULTS-partial.md")
    load = f"{load_before:.2f} / {os.getloadavg()[0]:.2f}"
    write_report(path, runs, rows, args.quick, load, groups)
    print(f"\n[bench] report written to {path}")
    failed = bool(errors(runs))
    if args.strict and any(row[-1] == "FAIL" for row in rows[1:]):
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
