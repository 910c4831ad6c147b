"""Ours at an earlier revision against ours now, in one run: client-mode registration of
the 160 MB frame, each next to the same registration in local mode.

A change that must keep a ratio ("client register / local register within its current
ratio") is judged by measuring both revisions on the same machine, in the same minutes,
by the same benchmark code: this script checks ``--rev`` out into a temporary git
worktree, then runs ``benchmarks/peers/ours_bench.py --cases client`` alternately with
that revision's ``src`` and this checkout's ``src`` first on ``PYTHONPATH`` (same
interpreter, same packages), ``--rounds`` times each. Every DataFrame sample registers new
bytes (``stamp_frame``), as a user registering new data does.

Usage::

    python benchmarks/ab_revision.py                      # d3516f8 (before issue 14) vs now
    python benchmarks/ab_revision.py --rev HEAD~3 --rounds 2

Writes the ``ab-client-register`` section of benchmarks/RESULTS.md (``--results`` to write
elsewhere). The section is informational: the verdict compares the two revisions' median
client / local ratios, and a difference inside the rounds' spread is reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))

from _load import command_line, now_utc  # noqa: E402
from _sections import (  # noqa: E402
    add_load_arguments,
    gate_from,
    results_path,
    section_header,
    write_section,
)

DEFAULT_REV = "d3516f8"  # the last revision with the shared, content-addressed upload area
ROUNDS = 3
CASES = ("client_data_register", "client_local_register")


def _env(workdir: Path, src: Path) -> dict[str, str]:
    """A clean environment homed in ``workdir`` with ``src`` first on the import path."""
    prefixes = ("PYTHON", "VIRTUAL_ENV", "OPSML_", "APP_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    home = workdir / "home"
    for sub in ("config", "cache", "data", "state", "tmp"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    return env | {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "TMPDIR": str(home / "tmp"),
        "OPSML_TRACKING_URI": f"sqlite:///{workdir / 'opsml.db'}",
        "OPSML_STORAGE_URI": str(workdir / "opsml_registries"),
        "PYTHONPATH": str(src),
    }


def run_once(src: Path, data_n: int) -> dict[str, list[float]]:
    """One run of the client group with ``src``: the register samples of both modes (s)."""
    workdir = Path(tempfile.mkdtemp(prefix="opsml-ab-"))
    try:
        cmd = [sys.executable, str(BENCH / "peers" / "ours_bench.py"), "--cases", "client"]
        cmd += ["--client-n", "3", "--client-data-n", str(data_n), "--warmup", "1"]
        proc = subprocess.run(
            cmd,
            cwd=workdir,
            env=_env(workdir, src),
            capture_output=True,
            text=True,
            check=False,
            timeout=1800,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{src}: ours_bench.py exited {proc.returncode}:\n{proc.stderr}")
        cases = json.loads(proc.stdout.strip().splitlines()[-1])["cases"]
        return {name: list(cases[name]["samples"]) for name in CASES}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def measure(old_src: Path, rounds: int, data_n: int) -> dict[str, dict[str, list[float]]]:
    """Alternate the revisions ``rounds`` times; per revision, the pooled samples and the
    per-round median client / local ratios."""
    pooled: dict[str, dict[str, list[float]]] = {}
    for i in range(rounds):
        order = [("old", old_src), ("now", ROOT / "src")]
        for label, src in order if i % 2 == 0 else order[::-1]:
            samples = run_once(src, data_n)
            entry = pooled.setdefault(label, {name: [] for name in (*CASES, "ratio")})
            for name in CASES:
                entry[name] += samples[name]
            ratios = [c / lo for c, lo in zip(*(samples[name] for name in CASES), strict=True)]
            entry["ratio"].append(statistics.median(ratios))
            print(f"[ab] round {i + 1} {label}: client / local {entry['ratio'][-1]:.2f}")
    return pooled


def main() -> None:
    """Check the old revision out, measure both, write the section."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rev", default=DEFAULT_REV, help=f"(default {DEFAULT_REV})")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--data-n", type=int, default=5, help="samples per run (default 5)")
    parser.add_argument("--results", type=Path)
    add_load_arguments(parser)
    args = parser.parse_args()
    rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", args.rev],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    gate, date, command = gate_from(args), now_utc(), command_line()
    tree = Path(tempfile.mkdtemp(prefix="opsml-ab-tree-")) / "tree"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev],
        check=True,
        capture_output=True,
    )
    try:
        pooled = gate.measure(
            "the A/B of client registration",
            lambda: measure(tree / "src", args.rounds, args.data_n),
        )
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False
        )
    rows = []
    for label, name in (("old", f"`{rev}`"), ("now", "this checkout")):
        entry = pooled[label]
        rows.append(
            f"| {name} | {statistics.median(entry['client_data_register']) * 1000:.0f} "
            f"| {statistics.median(entry['client_local_register']) * 1000:.0f} "
            f"| {statistics.median(entry['ratio']):.2f} "
            f"| {min(entry['ratio']):.2f}-{max(entry['ratio']):.2f} |"
        )
    old, now = (statistics.median(pooled[k]["ratio"]) for k in ("old", "now"))
    spread = max(pooled["old"]["ratio"]) >= min(pooled["now"]["ratio"])
    verdict = (
        "now is at or below the old ratio"
        if now <= old
        else "now is above the old ratio, inside the rounds' spread"
        if spread
        else "now is above the old ratio, outside the rounds' spread"
    )
    lines = [
        f"## Client registration of the 160 MB frame: `{rev}` vs this checkout (issue 14)",
        "",
        *section_header(gate, date, command),
        "",
        f"{args.rounds} alternating runs per revision of `ours_bench.py --cases client` "
        f"({args.data_n} samples each, new bytes every sample), each sample registering the "
        "frame in client mode and in local mode back to back. Ratio: median over runs of "
        f"each run's median client / local. Verdict: **{verdict}**.",
        "",
        "| revision | client register ms | local register ms | client / local | per-run range |",
        "|---|---|---|---|---|",
        *rows,
    ]
    path = results_path(args.results, reference=args.rounds == ROUNDS)
    write_section(path, "ab-client-register", lines)
    print(f"[bench] section ab-client-register written to {path}")


if __name__ == "__main__":
    main()
