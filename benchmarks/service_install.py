"""Benchmark `opsml install service` via a server: a 10-card service of about 200 MB, cold and
warm (everything already installed).

Starts a real server process (``OpsmlTestServer``) on a temporary SQLite database and
artifact folder, registers 8 DataCards of random ``float64`` arrays (``NumpyData``), a
scikit-learn ModelCard and a PromptCard, writes an ``opsmlspec.yaml``, runs ``opsml lock``
and then ``opsml install service --frozen`` as commands (each in its own process, as a
user would), cold into an empty folder, then warm several times. Bytes moved are read from
the loopback interface's counters around each install (the server is otherwise idle) and
from the install's own report.

Usage::

    .venv/bin/python benchmarks/service_install.py          # its section of RESULTS.md
    .venv/bin/python benchmarks/service_install.py --quick  # 8 x 2 MB: .work/RESULTS-partial.md

Needs the project's dev install (``make install``): opsml with numpy, scikit-learn, the
server extra and psutil.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from _load import command_line, now_utc
from _sections import add_load_arguments, gate_from, results_path, section_header, write_section

ROOT = Path(__file__).resolve().parent.parent
OPSML = str(Path(sys.executable).parent / "opsml")


def _loopback_bytes() -> int:
    counters = psutil.net_io_counters(pernic=True).get("lo")
    return 0 if counters is None else int(counters.bytes_recv)


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, str]:
    """Run a command; return (seconds, loopback bytes moved meanwhile, stdout)."""
    before = _loopback_bytes()
    start = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    moved = _loopback_bytes() - before
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return seconds, moved, result.stdout


def _seed(array_mb: float, arrays: int) -> int:
    from sklearn.linear_model import LogisticRegression

    from opsml import CardRegistry, DataCard, ModelCard, PromptCard, RegistryType
    from opsml.data import NumpyData
    from opsml.llm import Prompt
    from opsml.model import SklearnModel

    rng = np.random.default_rng(0)
    rows = int(array_mb * 1024 * 1024 / 8 / 16)
    total = 0
    data = CardRegistry(RegistryType.Data)
    for i in range(arrays):
        array = rng.normal(size=(rows, 16))
        total += array.nbytes
        data.register_card(DataCard(interface=NumpyData(data=array), space="bench", name=f"d{i}"))
    features = rng.normal(size=(200, 4))
    model = LogisticRegression().fit(features, (features[:, 0] > 0).astype(int))
    CardRegistry(RegistryType.Model).register_card(
        ModelCard(
            interface=SklearnModel(model=model, sample_data=features[:5]), space="bench", name="m"
        )
    )
    CardRegistry(RegistryType.Prompt).register_card(
        PromptCard(prompt=Prompt(message="Hello ${name}"), space="bench", name="p")
    )
    return total


def _spec(arrays: int) -> str:
    cards = [f"    - {{alias: data{i}, name: d{i}, type: data}}" for i in range(arrays)]
    cards += [
        "    - {alias: model, name: m, type: model}",
        "    - {alias: prompt, name: p, type: prompt}",
    ]
    return "name: svc\nspace: bench\nservice:\n  version: '1'\n  cards:\n" + "\n".join(cards) + "\n"


def measure(array_mb: float, arrays: int, warm_runs: int) -> dict[str, Any]:
    """Seed the service on a server, lock it, install it cold, then ``warm_runs`` times."""
    from opsml.mock import OpsmlTestServer

    work = Path(tempfile.mkdtemp(prefix="opsml-service-bench-"))
    try:
        with OpsmlTestServer(base_path=work / "server") as server:
            payload = _seed(array_mb, arrays)
            project = work / "project"
            project.mkdir()
            (project / "opsmlspec.yaml").write_text(_spec(arrays))
            env = {**os.environ, "OPSML_TRACKING_URI": server.server_uri, "HOME": str(work)}
            lock_s, _, _ = _run([OPSML, "lock"], project, env)
            cold = _run([OPSML, "install", "service", "--frozen"], project, env)
            warm = [
                _run([OPSML, "install", "service", "--frozen"], project, env)
                for _ in range(warm_runs)
            ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"payload": payload, "lock": lock_s, "cold": cold, "warm": warm}


def _reported(stdout: str) -> int:
    """The bytes an install reports it downloaded."""
    found = re.search(r"\((\d+) bytes\)", stdout)
    if found is None:
        raise RuntimeError(f"the install did not report its bytes:\n{stdout}")
    return int(found.group(1))


def main() -> None:
    """Measure the installs and write the ``service-install`` section."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="8 x 2 MB, into .work/RESULTS-partial.md"
    )
    parser.add_argument("--warm-runs", type=int, default=5)
    parser.add_argument("--results", type=Path, help="report to write the section into")
    add_load_arguments(parser)
    args = parser.parse_args()
    array_mb, arrays = (2.0, 8) if args.quick else (25.0, 8)
    gate, date, command = gate_from(args), now_utc(), command_line()
    found = gate.measure("the service installs", lambda: measure(array_mb, arrays, args.warm_runs))
    payload, lock_s, warm = found["payload"], found["lock"], found["warm"]
    cold_s, cold_net, cold_out = found["cold"]
    reported = _reported(cold_out)
    warm_reported = [_reported(out) for _, _, out in warm]

    mb = 1024 * 1024
    warm_s = statistics.median(s for s, _, _ in warm)
    warm_net = max(n for _, n, _ in warm)
    rows = [
        (
            "service",
            f"10 cards ({arrays} DataCards of {array_mb:g} MB, a ModelCard, a PromptCard), "
            f"{payload / mb:.0f} MB of artifacts",
            "",
            "",
        ),
        (
            "`opsml lock` (resolve 10 cards, register the service)",
            f"{lock_s * 1000:.0f} ms",
            "",
            "info",
        ),
        (
            "cold `opsml install service --frozen` (empty folder)",
            f"{cold_s * 1000:.0f} ms",
            f"{payload / mb / cold_s:.0f} MB/s",
            "info",
        ),
        ("... artifact bytes downloaded (install report)", f"{reported / mb:.1f} MB", "", "info"),
        ("... bytes on loopback during the install", f"{cold_net / mb:.1f} MB", "", "info"),
        (
            f"warm install (everything present), median of {len(warm)}",
            f"{warm_s * 1000:.0f} ms",
            "",
            "info",
        ),
        (
            "... artifact bytes downloaded (install report)",
            f"{max(warm_reported)} B",
            "target 0",
            "PASS" if max(warm_reported) == 0 else "FAIL",
        ),
        (
            "... bytes on loopback during the install (max)",
            f"{warm_net} B",
            "target 0",
            "PASS" if warm_net == 0 else "FAIL",
        ),
    ]
    lines = [
        "## `opsml install service` via the server (issue 5)",
        "",
        *section_header(gate, date, command),
        "- Server and client on loopback",
        "",
        "| case | value | rate / target | status |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        "",
        "Each command is a fresh `opsml` process (interpreter start-up included). A warm install",
        "reads the lock, re-hashes every installed file against it and makes no request at all,",
        "so its time is the SHA-256 of the installed files plus start-up.",
    ]
    path = results_path(args.results, reference=not args.quick and args.warm_runs == 5)
    print("\n".join(lines))
    write_section(path, "service-install", lines)
    print(f"[bench] section service-install written to {path}")


if __name__ == "__main__":
    main()
