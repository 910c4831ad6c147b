"""Benchmark drift monitoring and serving side by side with OpsML 3 (issue 18):
``create_drift_profile`` (PSI and SPC) on the 2 000 000 x 10 frame, time and peak memory;
``AppState.from_path`` of a service of 3 cards; the cost of ``queue.insert`` per record inside
a request handler (p50 / p99).

Each measurement runs ``peers/_drift_child.py`` in a fresh interpreter of each peer's
virtualenv (``benchmarks/setup_venvs.sh`` builds them under ``.bench-venvs/``; ours needs the
``monitoring`` extra there), in an empty temporary folder with no ``OPSML_*`` variables, so
both peers run the very same calls of OpsML 3's API. A peer that fails a case is reported
with its error.

Usage::

    .venv/bin/python benchmarks/app_serving.py          # its section of RESULTS.md
    .venv/bin/python benchmarks/app_serving.py --quick  # 200 000 rows: .work/RESULTS-partial.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _load import command_line, now_utc
from _sections import add_load_arguments, gate_from, results_path, section_header, write_section

BENCH = Path(__file__).resolve().parent
CHILD = BENCH / "peers" / "_drift_child.py"
VENVS = Path(os.environ.get("BENCH_VENVS", BENCH.parent / ".bench-venvs"))
FORMS = ("numpy", "pandas")
"""The frame as one numpy array (both peers profile it) and as the pandas 3 frame itself."""


def _child(python: str, args: list[str]) -> dict[str, Any]:
    """Run one measurement; its JSON result, or ``{"error": ...}``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSML_", "SCOUTER_"))}
    env["PYTHONPATH"] = str(BENCH / "peers")
    with tempfile.TemporaryDirectory(prefix="opsml-app-bench-") as work:
        proc = subprocess.run(
            [python, str(CHILD), *args], cwd=work, env=env, capture_output=True, text=True,
            check=False, timeout=1800,
        )  # fmt: skip
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return {"error": lines[-1][:160] if lines else f"exit {proc.returncode}"}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _samples(python: str, args: list[str], runs: int) -> list[dict[str, Any]] | str:
    found = []
    for _ in range(runs):
        result = _child(python, args)
        if "error" in result:
            return str(result["error"])
        found.append(result)
    return found


def measure(peers: dict[str, str], rows: int, records: int, runs: int) -> dict[str, Any]:
    """Every case for every peer: ``{case: {peer: samples | error}}``."""
    cases: dict[str, Any] = {}
    for kind in ("psi", "spc"):
        for form in FORMS:
            cases[f"{kind}-{form}"] = {
                peer: _samples(python, ["profile", kind, form, str(rows)], runs)
                for peer, python in peers.items()
            }
    cases["serve"] = {
        peer: _samples(python, ["serve", str(records)], runs) for peer, python in peers.items()
    }
    return cases


def _median(samples: Any, key: str) -> float | None:
    return None if isinstance(samples, str) else statistics.median(s[key] for s in samples)


def _quantile(samples: Any, q: int) -> float | None:
    if isinstance(samples, str):
        return None
    values = sorted(v for s in samples for v in s["insert_ns"])
    return values[min(len(values) - 1, len(values) * q // 100)] / 1000.0


def _row(label: str, ours: float | None, theirs: float | None, unit: str, err: Any) -> str:
    def shown(value: float | None, samples: Any) -> str:
        return f"fails: {samples}" if value is None else f"{value:.1f} {unit}"

    if ours is not None and theirs:
        ratio = ours / theirs
        target = f"{ratio:.2f} x (target <= 1.0)"
        status = "PASS" if ratio <= 1.0 else "FAIL"
    else:
        target, status = "", "info"
    return f"| {label} | {shown(ours, err[0])} | {shown(theirs, err[1])} | {target} | {status} |"


def main() -> None:
    """Measure and write the ``app-serving`` section."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 000 rows, 3 000 records")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per case and peer")
    parser.add_argument("--ours", default=None, help="ours' interpreter (default .bench-venvs)")
    parser.add_argument("--opsml3", default=str(VENVS / "opsml3" / "bin" / "python"))
    parser.add_argument("--results", type=Path, help="report to write the section into")
    add_load_arguments(parser)
    args = parser.parse_args()
    ours = args.ours or str(VENVS / "ours" / "bin" / "python")
    if not Path(ours).exists():
        ours = sys.executable
    rows, records = (200_000, 3_000) if args.quick else (2_000_000, 20_000)
    peers = {"ours": ours, "opsml3": args.opsml3}
    gate, date, command = gate_from(args), now_utc(), command_line()
    found = gate.measure("drift and serving", lambda: measure(peers, rows, records, args.runs))

    lines = [
        "## Drift profiles and serving (issue 18)",
        "",
        *section_header(gate, date, command),
        f"- {args.runs} fresh processes per case and peer; medians",
        "",
        "| case | ours | OpsML 3 | ours / OpsML 3 | status |",
        "|---|---|---|---|---|",
    ]
    mb = 1024 * 1024
    for case in (f"{kind}-{form}" for kind in ("psi", "spc") for form in FORMS):
        kind, form = case.split("-")
        pair = (found[case]["ours"], found[case]["opsml3"])
        name = f"`create_drift_profile` {kind.upper()}, {rows:,} x 10 {form}"
        secs = [None if t is None else t * 1000 for t in (_median(p, "seconds") for p in pair)]
        peak = [_median(p, "peak_extra_bytes") for p in pair]
        lines.append(_row(f"{name}: time", *secs, "ms", pair))
        lines.append(
            _row(f"{name}: peak extra RSS", *[p / mb if p else p for p in peak], "MB", pair)
        )
    pair = (found["serve"]["ours"], found["serve"]["opsml3"])
    lines.append(
        _row("`AppState.from_path`, 3 cards", *[_median(p, "from_path_seconds") for p in pair],
             "s", pair)
    )  # fmt: skip
    for q in (50, 99):
        lines.append(
            _row(f"`queue.insert` in a handler, p{q} of {records:,} x {args.runs}",
                 *[_quantile(p, q) for p in pair], "us", pair)
        )  # fmt: skip
    lines += [
        "",
        "The numpy rows profile the frame's values as one array, which both peers accept; the",
        "pandas rows profile the pandas 3 frame itself, which OpsML 3 refuses.",
        "`AppState.from_path` includes starting the queue: both peers' scouter waits for its",
        "publishing tasks to start (about a second) before returning.",
    ]
    path = results_path(args.results, reference=not args.quick and args.runs == 3)
    print("\n".join(lines))
    write_section(path, "app-serving", lines)
    print(f"[bench] section app-serving written to {path}")


if __name__ == "__main__":
    main()
