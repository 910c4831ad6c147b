"""Benchmark experiments, OpsML's own published comparison, side by side in one run.

Each of 10 runs starts an experiment, trains a ``RandomForestClassifier(n_estimators=5)`` on
``make_classification(n_samples=1000, n_features=4)`` and registers the model from inside
the experiment. Peers: ours and OpsML 3 (the same Python code: the APIs are compatible) in
local mode and in client mode (each peer's own ``opsml.mock.OpsmlTestServer``), and MLflow
(``mlflow.start_run`` + ``mlflow.sklearn.log_model`` with a registered model name, on a
SQLite tracking store; MLflow 3.17 saves with skops and needs the tree node type trusted).
Every peer runs in its own virtualenv (``benchmarks/setup_venvs.sh``)
and in a fresh temporary working directory; one warm-up run is not counted.

Usage::

    python benchmarks/experiment_runs.py            # writes its section of RESULTS.md
    python benchmarks/experiment_runs.py --runs 3   # into .work/RESULTS-partial.md
    python benchmarks/experiment_runs.py --runs 3 --no-results
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _load import command_line, now_utc
from _sections import add_load_arguments, gate_from, results_path, section_header, write_section

ROOT = Path(__file__).resolve().parent.parent
VENVS = Path(os.environ.get("BENCH_VENVS", ROOT / ".bench-venvs"))
RUNS = 10

_OPSML = """
import json, sys, time, contextlib
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from opsml import ModelCard, SklearnModel
from opsml.experiment import start_experiment
X, y = make_classification(n_samples=1000, n_features=4, random_state=0)
def one():
    with start_experiment(space="bench", name="rf") as exp:
        clf = RandomForestClassifier(n_estimators=5).fit(X, y)
        card = ModelCard(interface=SklearnModel(model=clf, sample_data=X[:10]),
                         space="bench", name="rf")
        exp.register_card(card)
def bench(runs):
    one()
    times = []
    for _ in range(runs):
        t = time.perf_counter(); one(); times.append(time.perf_counter() - t)
    return times
runs = int(sys.argv[1])
if sys.argv[2] == "client":
    from opsml.mock import OpsmlTestServer
    with OpsmlTestServer():
        times = bench(runs)
else:
    times = bench(runs)
print(json.dumps(times))
"""

_LOG10K = """
import json, sys, time
from opsml.experiment import get_experiment_metrics, start_experiment
from opsml.mock import OpsmlTestServer
times = []
with OpsmlTestServer():
    for _ in range(int(sys.argv[1])):
        with start_experiment(space="bench", name="metrics") as exp:
            t = time.perf_counter()
            for step in range(10_000):
                exp.log_metric("loss", 1.0 / (step + 1), step=step)
            times.append(time.perf_counter() - t)
        assert len(get_experiment_metrics(exp.uid)) == 10_000
print(json.dumps(times))
"""

_MLFLOW = """
import json, sys, time
import mlflow, mlflow.sklearn
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
mlflow.set_tracking_uri("sqlite:///mlflow.db")
X, y = make_classification(n_samples=1000, n_features=4, random_state=0)
def one():
    with mlflow.start_run():
        clf = RandomForestClassifier(n_estimators=5).fit(X, y)
        mlflow.sklearn.log_model(clf, name="model", registered_model_name="rf",
                                 input_example=X[:10],
                                 skops_trusted_types=["sklearn.tree._tree.Tree"])
one()
times = []
for _ in range(int(sys.argv[1])):
    t = time.perf_counter(); one(); times.append(time.perf_counter() - t)
print(json.dumps(times))
"""


def _run(peer: str, code: str, runs: int, mode: str) -> list[float] | str:
    python = VENVS / peer / "bin" / "python"
    if not python.exists():
        return f"no venv at {python} (bash benchmarks/setup_venvs.sh {peer})"
    with tempfile.TemporaryDirectory(prefix=f"opsml-bench-{peer}-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSML_", "MLFLOW_"))}
        env.update(HOME=tmp, XDG_CACHE_HOME=f"{tmp}/.cache", XDG_CONFIG_HOME=f"{tmp}/.config")
        result = subprocess.run(
            [str(python), "-c", code, str(runs), mode],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
    if result.returncode != 0:
        return f"failed: {result.stderr.strip().splitlines()[-1:]}"
    times: list[float] = json.loads(result.stdout.strip().splitlines()[-1])
    return times


CASES = (
    ("ours", "local", _OPSML),
    ("opsml3", "local", _OPSML),
    ("ours", "client", _OPSML),
    ("opsml3", "client", _OPSML),
    ("mlflow", "local", _MLFLOW),
    ("ours", "log10k", _LOG10K),
)


def measure(runs: int) -> dict[tuple[str, str], list[float] | str]:
    """Every (peer, mode) of :data:`CASES`: the seconds of each run, or why it failed."""
    measured: dict[tuple[str, str], list[float] | str] = {}
    for peer, mode, code in CASES:
        started = time.monotonic()
        measured[peer, mode] = _run(peer, code, runs, mode)
        print(f"[bench] {peer} {mode}: {time.monotonic() - started:.0f} s", file=sys.stderr)
    return measured


def main() -> None:
    """Measure the runs and write the ``experiment-runs`` section."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--no-results", action="store_true", help="write no report")
    parser.add_argument("--results", type=Path, help="report to write the section into")
    add_load_arguments(parser)
    args = parser.parse_args()
    gate, date, command = gate_from(args), now_utc(), command_line()
    measured = gate.measure("the experiment runs", lambda: measure(args.runs))

    def mean(key: tuple[str, str]) -> float | None:
        value = measured.get(key)
        return statistics.mean(value) if isinstance(value, list) else None

    rows = []
    for mode in ("local", "client"):
        ours, peer = mean(("ours", mode)), mean(("opsml3", mode))
        ratio = f"{ours / peer:.2f}" if ours and peer else "-"
        verdict = "PASS" if ours and peer and ours / peer <= 1.0 else "FAIL" if ours else "-"
        rows.append(
            f"| {mode} mode | {_fmt(measured['ours', mode])} | {_fmt(measured['opsml3', mode])} "
            f"| {_fmt(measured['mlflow', 'local']) if mode == 'local' else '-'} | {ratio} "
            f"| ours / OpsML 3 <= 1.0 | {verdict} |"
        )
    log10k = measured["ours", "log10k"]
    rows.append(
        f"| client mode: 10 000 `log_metric` calls (client time; all 10 000 read back) "
        f"| {_fmt(log10k)} | - | - | - | ours < 1 s "
        f"| {'PASS' if isinstance(log10k, list) and max(log10k) < 1 else 'FAIL'} |"
    )
    lines = [
        f"## Experiments: {args.runs} runs of train + register from inside the experiment "
        "(issue 6)",
        "",
        *section_header(gate, date, command),
        "",
        "| case (seconds per run, mean) | ours | OpsML 3 | MLflow | ours / OpsML 3 | target "
        "| status |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Each run: `start_experiment`, `RandomForestClassifier(n_estimators=5)` on "
        "`make_classification(1000, 4)`, `exp.register_card(ModelCard(SklearnModel))`; MLflow: "
        "`start_run` + `mlflow.sklearn.log_model(registered_model_name=...)` on SQLite. Client "
        "mode uses each peer's own `OpsmlTestServer` on loopback.",
    ]
    print("\n".join(lines))
    if args.no_results:
        return
    path = results_path(args.results, reference=args.runs == RUNS)
    write_section(path, "experiment-runs", lines)
    print(f"[bench] section experiment-runs written to {path}")


def _fmt(value: list[float] | str) -> str:
    return f"{statistics.mean(value):.3f}" if isinstance(value, list) else value


if __name__ == "__main__":
    main()
