"""Run the registry benchmark: ours, OpsML 3 and MLflow side by side, in one run.

Each peer runs in its own virtualenv (``benchmarks/setup_venvs.sh`` builds them under
``.bench-venvs/``), as subprocesses with a fresh temporary working directory that also holds
its HOME, XDG directories, SQLite database and artifact folder. The light cases (model
register/load, queries, import) run in one process per round, over several rounds; each
heavy group (the 160 MB DataFrame, its data profile, client mode with requests/s) runs once,
in a process of its own. A peer script prints one JSON object of samples; this script takes
medians, computes the ratios ours / peer from the same run, prints a table and writes
``benchmarks/RESULTS.md`` whole (the other scripts' sections kept, marked stale).

Each peer process waits for a quiet machine and is measured again when other processes took
CPU meanwhile (``_load.py``); a run that could not be measured quietly is marked INVALID.
Every row is compared with the previous report and flagged when it regressed beyond the
noise of its samples (``_compare.py``).

Usage::

    python benchmarks/run.py                 # full run (what ``make bench`` does)
    python benchmarks/run.py --quick         # fewer repetitions, smaller sizes
    python benchmarks/run.py --only opsml3   # one peer (repeat --only for more)
    python benchmarks/run.py --only data     # one group of cases (combinable with peers)

Standard library only: it runs under any Python 3.11+.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _compare import Measure, Previous, block, judge, ratio_spread, spread
from _load import LoadGate, command_line, now_utc
from _sections import add_load_arguments, gate_from, mark_stale, section_header, sections

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

    Targets: ``ratio_to`` (ours / that peer <= ``limit``), ``baseline`` (ours' median of
    ``of`` (default: this case) / ours' median of ``baseline`` <= ``limit``), or ``limit``
    alone (ours' median < ``limit``, in ``unit``). Without a limit the row is reported
    without a verdict ("info"), with its ratio when it has one.
    """

    key: str
    group: str  # the group of cases (--only NAME) that measures it
    label: str
    target: str
    ratio_to: str | None = None
    baseline: str | None = None
    of: str | None = None  # the numerator of a baseline ratio, when not this case
    limit: float | None = None
    unit: str = "ms"  # samples are seconds ("ms"), bytes ("MB") or requests/s ("req/s")
    sources: tuple[str, ...] = ()  # result entries that hold this case's error, if any
    # What the row measures, numbered: bump it when that changes (a new label is not enough:
    # newer reports are matched by key), so that the comparison with the previous report
    # does not call the change a regression.
    revision: int = 1

    @property
    def higher_is_better(self) -> bool:
        """Requests/s: more is better; everything else (times, memory, ratios): less."""
        return self.unit == "req/s" and self.ratio_to is None and self.baseline is None


_CLIENT = ("client_setup",)
_DATA = ("data",)
_CLIENT_DATA = ("client_data", *_CLIENT)
CASES = (
    Case(
        "register",
        "register",
        "register one ModelCard",
        "ours / OpsML 3 <= 1.0",
        ratio_to="opsml3",
        limit=1.0,
    ),
    Case(
        "load",
        "load",
        "load_card + card.load(), every file hashed",
        "ours / OpsML 3 <= 1.0",
        ratio_to="opsml3",
        limit=1.0,
        revision=2,  # 2: every file hashed, not answered by the verified-file cache
    ),
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
        sources=_DATA,
        revision=2,  # 2: the baseline writes with ours' Parquet options
    ),
    Case(
        "data_to_parquet",
        "data",
        "... pandas `df.to_parquet(path, **ours' options)`, paired",
        "baseline",
        sources=_DATA,
        revision=2,  # 2: ours' Parquet options
    ),
    Case(
        "data_to_parquet_defaults",
        "data",
        "... pandas `df.to_parquet(path)` with pandas' defaults, paired",
        "report: register / this",
        baseline="data_to_parquet_defaults",
        of="data_register",
        sources=_DATA,
    ),
    Case(
        "data_load_cold",
        "data",
        "load_card + card.load(), {frame}, first load (fresh process, empty verified-file cache)",
        "ours / read_parquet <= 1.2",
        baseline="data_read_parquet_cold",
        limit=1.2,
        sources=_DATA,
    ),
    Case(
        "data_read_parquet_cold",
        "data",
        "... pandas `pd.read_parquet(path)` in that process",
        "baseline",
        sources=_DATA,
    ),
    Case(
        "data_load",
        "data",
        "... warm: in the process that registered it (no hashing)",
        "report: / read_parquet",
        baseline="data_read_parquet",
        sources=_DATA,
    ),
    Case(
        "data_read_parquet",
        "data",
        "... pandas `pd.read_parquet(path)` in that process, paired",
        "baseline",
        sources=_DATA,
    ),
    Case(
        "profile",
        "profile",
        "create_data_profile(), {frame}",
        "ours / OpsML 3 <= 1.0 (*)",
        ratio_to="opsml3",
        limit=1.0,
    ),
    Case(
        "profile_memory",
        "profile",
        "... its peak extra RSS (MB)",
        "ours / OpsML 3 <= 1.0 (*)",
        ratio_to="opsml3",
        limit=1.0,
        unit="MB",
        sources=("profile",),
    ),
    Case(
        "client_register",
        "client",
        "client: register one ModelCard",
        "ours / OpsML 3 <= 1.0",
        ratio_to="opsml3",
        limit=1.0,
        sources=_CLIENT,
    ),
    Case(
        "client_load",
        "client",
        "client: load_card + card.load(), client cache off",
        "ours / OpsML 3 <= 1.0",
        ratio_to="opsml3",
        limit=1.0,
        sources=_CLIENT,
        revision=2,  # 2: the client's cache off
    ),
    Case(
        "client_load_cached",
        "client",
        "... from the client's cache (the process that registered it)",
        "report: / OpsML 3",
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
        sources=_CLIENT_DATA,
    ),
    Case(
        "client_local_register",
        "client",
        "... the same in local mode, paired",
        "baseline",
        sources=_CLIENT_DATA,
    ),
    Case(
        "client_data_load_cold",
        "client",
        "client: load_card + card.load(), {frame}, first load (fresh process, client cache off)",
        "ours / ours local <= 1.3",
        baseline="client_local_load_cold",
        limit=1.3,
        sources=_CLIENT_DATA,
        revision=2,  # 2: a fresh process, and the target
    ),
    Case(
        "client_local_load_cold",
        "client",
        "... local mode, first load (fresh process, empty verified-file cache), paired",
        "baseline",
        sources=_CLIENT_DATA,
    ),
    Case(
        "client_data_load",
        "client",
        "... from the client's cache (the process that registered it)",
        "report: / local warm",
        baseline="client_local_load",
        sources=_CLIENT_DATA,
    ),
    Case(
        "client_local_load",
        "client",
        "... local mode, warm (the process that registered it), paired",
        "baseline",
        sources=_CLIENT_DATA,
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
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="PATH",
        help="the previous report to flag regressions against (default: the report this "
        "run replaces)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a target FAILs or the run is INVALID"
    )
    add_load_arguments(parser)
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


def case_ratio(runs: dict[str, PeerRun], case: Case) -> float | None:
    """The ratio a case's target (or report) is about, from this run; None without one."""
    if case.ratio_to is not None:
        return ratio(runs, case.key, case.ratio_to)
    if case.baseline is not None:
        return own_ratio(runs.get("ours"), case.of or case.key, case.baseline)
    return None


def verdict(runs: dict[str, PeerRun], case: Case) -> tuple[str, str]:
    """(measured value, PASS/FAIL/ERROR/n/a/info) of the case's target."""
    ours = runs.get("ours")
    if ours is not None and ours.median(case.key) is None and ours.problem(case) == "error":
        return "-", "ERROR"
    if case.ratio_to is not None or case.baseline is not None:
        value = case_ratio(runs, case)
        if value is None:
            return "-", "n/a"
        if case.limit is None:
            return fmt_ratio(value), "info"
        return fmt_ratio(value), "PASS" if value <= case.limit else "FAIL"
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


def measure(runs: dict[str, PeerRun], case: Case) -> Measure | None:
    """The row's compared value (its ratio, else ours' median in the unit the table shows)
    and the range behind it."""
    ours = runs.get("ours")
    if ours is None:
        return None
    if case.ratio_to is not None or case.baseline is not None:
        value = case_ratio(runs, case)
        if value is None:
            return None
        if case.ratio_to is not None:
            other = runs.get(case.ratio_to)
            theirs = other.samples(case.key) if other is not None else None
            lo, hi = ratio_spread(ours.samples(case.key), theirs)
        else:
            base = ours.samples(case.baseline) if case.baseline is not None else None
            lo, hi = ratio_spread(ours.samples(case.of or case.key), base)
    else:
        samples = ours.samples(case.key)
        if not samples:
            return None
        # In the unit the table shows, as an older report's table is read back.
        scale = {"ms": 1000.0, "MB": 1e-6}.get(case.unit, 1.0)
        shown = [sample * scale for sample in samples]
        value = statistics.median(shown)
        lo, hi = spread(shown)
    return Measure(value, lo, hi, case.higher_is_better, case.revision)


@dataclass
class Table:
    """The results table, and what the comparison with the previous report found."""

    rows: list[list[str]]
    measures: dict[str, Measure]
    regressions: list[str]  # labels of the rows flagged


def results_table(
    runs: dict[str, PeerRun], order: list[str], groups: list[str], previous: Previous | None
) -> Table:
    """Header plus one row per case of ``groups``: medians, ratios, target, status, and
    the change against ``previous`` (None: not compared)."""
    others = [name for name in order if name != "ours"]
    header = ["case", *(PEERS[n].label for n in order)]
    header += [f"ours / {PEERS[n].label}" for n in others] if "ours" in order else []
    header += ["target", "value", "status", "vs previous"]
    table = Table([header], {}, [])
    n, frame = seed_count(runs), frame_label(runs)
    for case in (c for c in CASES if c.group in groups):
        label = case.label.format(n=n, frame=frame)
        row = [label, *(cell(runs.get(name), case) for name in order)]
        if "ours" in order:
            for name in others:
                row.append(fmt_ratio(ratio(runs, case.key, name)))
        current = measure(runs, case)
        if current is not None:
            table.measures[case.key] = current
        change, flagged = "-", False
        if previous is not None:
            change, flagged = judge(previous.get(case.key, label), current)
        if flagged:
            table.regressions.append(label)
        row += [case.target, *verdict(runs, case), change]
        table.rows.append(row)
    return table


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
        'MLflow: `mlflow.sklearn.load_model("models:/name/<version>")`. Before each sample '
        "(untimed) every file of the card gets a new modification time (`os.utime`): its "
        "fingerprint changes, so ours' verified-file cache, which knows the files this "
        "process registered, does not answer and every byte is hashed, as in a first load "
        "(OpsML 3 keeps no such cache; its files are touched the same).",
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
        "must be strings'), the same in both peers. Every sample (in the client group too) "
        "first sets the last row's first cell to a value of its own (`stamp_frame`), so each "
        "registration stores new bytes, as a user registering new data does: no registry can "
        "answer a sample with work it did for an earlier one (ours' server keeps no bytes "
        "across registrations since issue 14; the frame's earlier runs registered identical "
        "bytes every sample); the baseline files of a sample are written from the same "
        "stamped frame, and every check compares with it. register: `register_card(DataCard("
        "interface=PandasData(data=df), ...))` alone (a new name per card: OpsML 3 can give "
        "quick registrations of one name the same version, which then fail to load), paired "
        "in every sample with `df.to_parquet(path, engine='pyarrow', use_dictionary=[])` "
        "into the peer's work dir next to its registry (same disk): the options ours' "
        "PandasData passes for this all-float frame (no dictionary encoding for float "
        "columns; snappy, 1 Mi-row groups and statistics as pandas' and pyarrow's defaults), "
        "so both write the same file (ours' run compares the two files' Parquet footers: "
        "compression, encodings, statistics, dictionary pages, row groups, and fails on a "
        "difference); one more `df.to_parquet(path)` with pandas' own defaults (dictionary "
        "encoding on) is reported beside it; the order of the three calls rotates; 1 "
        "warm-up, then the samples. Loads (`load_card(uid=...)` + `card.load()`, compared "
        "with `pd.read_parquet(path, engine='pyarrow')`, ours' read call) come twice. The "
        "target row is the **first load**, the case a user meets first: a fresh interpreter "
        "(`peers/_load_child.py`) that did not register the card, with `XDG_CACHE_HOME` an "
        "empty folder, so ours' verified-file cache (`verified.sqlite3`) knows no file and "
        "every byte is hashed; the same process reads the baseline file, back to back, the "
        "order alternating (imports, creating the registry and one tiny Parquet read that "
        "sets up pyarrow are not timed). The **warm** rows load in the process that "
        "registered the cards: ours' verified-file cache answers from memory, nothing is "
        "hashed. The page cache is warm in both (the files were just written), as for a "
        "user's first load after registering on the same machine: it is not dropped, since "
        "that needs root, throws away every other process's cache on a shared machine, and "
        "would measure the disk (for ours and for pandas alike) rather than the registry. "
        "OpsML 3 runs the same two kinds of load. The first of each kind is checked with "
        "`DataFrame.equals`. Ratios to pandas are ratios of the medians of the same process.",
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
        "3000. The ModelCard: register as in local mode; the load target loads with the "
        "client's cache off (`OPSML_CACHE_MAX_BYTES=0`: every file downloaded, as on a "
        "machine that never saw the card), the loads from ours' client cache (it keeps the "
        "files it registered) reported beside. The DataFrame: each sample registers "
        "it through the server and, in the same process, with a local-mode registry created "
        "before the server started (the order alternating), 1 warm-up pair, then the "
        "samples. The load target is the **first load** on both sides, each in a fresh "
        "interpreter with an empty `XDG_CACHE_HOME`, back to back, the order alternating: "
        "through the server with the client's cache off (`OPSML_CACHE_MAX_BYTES=0`: every "
        "byte downloaded and hashed as it arrives, as on another machine), against the "
        "local-mode first load (every byte hashed). Beside it, the loads in the process "
        "that registered the cards: ours' client keeps registered files in its cache "
        "(docs/server.md, 'The client's cache') and its local registry's verified-file "
        "cache knows them, so neither downloads nor hashes. OpsML 3 has no client cache; "
        "its first loads run the same way (the child inherits its test server's client "
        "variables, set from Rust, through the C library's environment). Its local side is "
        "not paired (skipped): a registry it creates in local mode before its test server "
        "starts uses the server's storage once the server runs (same timings as its client "
        "registry, and same-name cards of the two overwrite each other's files); the notes "
        "give its client / local ratios against its `data` group instead.",
        "GET card metadata under load: ours `GET /opsml/api/model/cards/{uid}` (no auth "
        "configured: guest); OpsML 3 `GET /opsml/api/card/metadata?uid=...&registry_type="
        "Model` (the endpoint its client reads a card's metadata from; it reads `card.json` "
        "from storage and decrypts it on every request), with the bearer token of its test "
        "server's default user and a `User-Agent` header (it answers 400 without one). The "
        "load generator runs on the same 2 cores as the server, after a 1 s warm-up.",
        "Every peer runs in its own virtualenv under `.bench-venvs/` (ours: `pip install -e "
        ".[sklearn,pandas,server,postgres,monitoring]`), one process after the other, each in a "
        "fresh temporary "
        "directory that holds its HOME/XDG dirs, SQLite database and local artifact folder. "
        "ours and OpsML 3 run the light cases (model register/load, queries, import) in "
        "several rounds in alternating order (ours, OpsML 3, OpsML 3, ours, ...) with their "
        "samples pooled, so load from other processes does not fall on one peer only; each "
        "heavy group (DataFrame, profile, client mode) runs once per peer in a process of "
        "its own, the peer order alternating between groups; MLflow runs the light cases "
        "once.",
        "Load: before each peer process (a round of the light cases or a heavy group) the "
        "1-minute load average must be at most the core count; above it, the run waits, "
        "looking every 10 s, up to `--max-wait` seconds (default 600). While the process "
        "runs, the other processes' CPU use is measured: the machine's busy time "
        "(`/proc/stat`, steal included) minus the CPU time of this run's own processes "
        "(`getrusage` of the orchestrator and the children it waited for), over the wall "
        "time. The load average after a group is recorded but not judged, since it counts "
        "our own work too (wrk and the server alone keep 2 cores busy). A group during which "
        "other processes used more than `--max-foreign` cores (default 0.25) is measured "
        "again once the load average has fallen, and its first samples are dropped; a run "
        "whose load average did not fall in time, or with a group still loaded when "
        "measured again, is marked **INVALID** in its header (`--strict` then exits 1).",
        "vs previous: each row's compared value (the ratio of its target or report when it "
        "has one, else ours' median) against the previous report's. The noise of a value is "
        "the interquartile range of ours' samples (for a ratio a / b: Q1(a)/Q3(b) to "
        "Q3(a)/Q1(b)); a row is flagged REGRESSION when it got worse by more than 10 % and "
        "the two runs' ranges do not overlap, or, where the previous report has no ranges "
        "(older reports, single samples), when it got worse by more than 20 %. For "
        "requests/s worse means lower. Rows whose measurement changed since (a new label "
        "or `method changed`) and quick runs against full ones are not compared.",
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
        (
            "register / to_parquet with pandas' defaults",
            "data_register",
            "data_to_parquet_defaults",
        ),
        ("first load / read_parquet", "data_load_cold", "data_read_parquet_cold"),
        ("warm load / read_parquet", "data_load", "data_read_parquet"),
        ("client register / local register", "client_data_register", "client_local_register"),
        ("client first load / local first load", "client_data_load_cold", "client_local_load_cold"),
        ("client cached load / local warm load", "client_data_load", "client_local_load"),
        ("client first load / local warm load", "client_data_load_cold", "client_local_load"),
        # Unpaired (OpsML 3): over the medians of its data group.
        ("client register / local register (data group)", "client_data_register", "data_register"),
        (
            "client first load / local first load (data group)",
            "client_data_load_cold",
            "data_load_cold",
        ),
    ]
    if "samples" in run.cases.get("client_local_register", {}):
        pairs = pairs[:-2]
    ratios = [
        f"{name} {value:.2f}"
        for name, key, base in pairs
        if (value := own_ratio(run, key, base)) is not None
    ]
    if ratios:
        out.append(f"{label}, DataFrame medians relative to its own: {', '.join(ratios)}.")
    layout = run.cases.get("parquet_layout", {})
    if layout.get("checked"):
        footer = layout["layout"]
        kinds = sorted({str(kind) for kinds in footer["columns"].values() for kind in kinds})
        out.append(
            f"{label}: its registered Parquet file and the baseline's have the same footer "
            f"(row groups of {', '.join(str(rows) for rows in footer['row_groups'])} rows; "
            f"(compression, encodings, statistics, dictionary page) of every column: "
            f"{', '.join(kinds)})."
        )
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


@dataclass
class Report:
    """Everything the Markdown report is written from."""

    runs: dict[str, PeerRun]
    table: Table
    gate: LoadGate
    previous: Previous | None
    quick: bool
    groups: list[str]
    date: str
    command: str


def comparison_line(report: Report) -> str:
    """The header line that says what the "vs previous" column compares with."""
    previous = report.previous
    if previous is None:
        return "Compared with: nothing (no previous report); the `vs previous` column is empty"
    try:
        where = str(previous.path.relative_to(ROOT))
    except ValueError:
        where = str(previous.path)
    if previous.quick != report.quick:
        kind = "quick" if previous.quick else "full"
        return f"Compared with: nothing (`{where}` of {previous.date} is a {kind} run)"
    found = report.table.regressions
    flagged = f"**{len(found)} regression(s)**: {'; '.join(found)}" if found else "no regression"
    caveat = ", a run marked INVALID" if previous.invalid else ""
    return f"Compared with: `{where}` of {previous.date}{caveat}: {flagged} (rule in the notes)"


def load_table(gate: LoadGate) -> list[str]:
    """One line per measured peer process: the load before and after, and the verdict."""
    rows = [["process", "attempt", "waited", "load before", "load after", "others' CPU", "outcome"]]
    for record in gate.records:
        rows.append(
            [
                record.what,
                str(record.attempt),
                f"{record.waited:.0f} s",
                f"{record.load_before:.2f}",
                f"{record.load_after:.2f}",
                f"{record.foreign:.2f} cores",
                record.outcome,
            ]
        )
    return [markdown_table(rows)] if gate.records else ["No peer process ran."]


def write_report(path: Path, report: Report) -> None:
    """Write the Markdown report to ``path``, keeping (and marking stale) the sections
    other scripts wrote there before."""
    runs = report.runs
    lines = [
        "# Benchmark results",
        "",
        "Generated by `benchmarks/run.py` (see `benchmarks/README.md`); rewritten whole on "
        "every full run (the sections of the other scripts after it are marked stale until "
        "their script runs again, as `make bench` does), do not edit by hand.",
        "",
        *section_header(report.gate, report.date, report.command),
        f"- {comparison_line(report)}",
        f"- Orchestrator Python: {platform.python_version()}",
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
        markdown_table(report.table.rows),
        "",
        "## Load during the run",
        "",
        *load_table(report.gate),
        "",
        "## Method and notes",
        "",
    ]
    lines += [f"- {note}" for note in notes(runs, report.quick, report.groups)]
    problems = errors(runs)
    if problems:
        lines += ["", "## Errors", ""] + [f"- {p}" for p in problems]
    lines += ["", block(report.table.measures, report.quick)]
    kept = [mark_stale(section, report.date) for section in sections(path)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n" + "".join(f"\n{section}\n" for section in kept))


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
    full = not args.quick and not args.only
    report_path = args.results or (RESULTS if full else WORK / "RESULTS-partial.md")
    previous = Previous.read(args.compare or report_path)
    date, command = now_utc(), command_line()
    WORK.mkdir(parents=True, exist_ok=True)
    for name in order:  # raw files of an earlier run with more rounds would mislead
        for stale in [*WORK.glob(f"{name}-*.json"), *WORK.glob(f"{name}-*.log")]:
            stale.unlink()

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

    gate = gate_from(args)

    def run(name: str, cases: list[str], tag: str, new_round: bool) -> None:
        what = f"{PEERS[name].label}, " + (f"round {tag}" if tag.isdigit() else tag)
        result = gate.measure(
            what, lambda: run_peer(PEERS[name], pythons[name], args.quick, args.keep, cases, tag)
        )
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

    table = results_table(runs, order, groups, previous)
    print()
    print_table(table.rows)
    report = Report(runs, table, gate, previous, args.quick, groups, date, command)
    write_report(report_path, report)
    print(f"\n[bench] report written to {report_path}")
    print(f"[bench] {comparison_line(report)}")
    if not gate.valid:
        print(f"[bench] INVALID run: {'; '.join(gate.problems)}")
    failed = bool(errors(runs))
    if args.strict and (not gate.valid or any(row[-2] == "FAIL" for row in table.rows[1:])):
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
