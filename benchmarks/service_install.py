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

    .venv/bin/python benchmarks/service_install.py            # writes its section of RESULTS.md
    .venv/bin/python benchmarks/service_install.py --quick    # 10 x 2 MB, no RESULTS.md change

Needs the project's dev install (``make install``): opsml with numpy, scikit-learn, the
server extra and psutil.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
from _sections import write_section

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 x 2 MB; no RESULTS.md change")
    parser.add_argument("--warm-runs", type=int, default=5)
    args = parser.parse_args()
    array_mb, arrays = (2.0, 8) if args.quick else (25.0, 8)

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
            cold_s, cold_net, cold_out = _run(
                [OPSML, "install", "service", "--frozen"], project, env
            )
            warm = [
                _run([OPSML, "install", "service", "--frozen"], project, env)
                for _ in range(args.warm_runs)
            ]
        reported = int(re.search(r"\((\d+) bytes\)", cold_out).group(1))  # type: ignore[union-attr]
        warm_reported = [int(re.search(r"\((\d+) bytes\)", o).group(1)) for _, _, o in warm]  # type: ignore[union-attr]
    finally:
        shutil.rmtree(work, ignore_errors=True)

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
    command = f"`.venv/bin/python benchmarks/service_install.py{' --quick' if args.quick else ''}`"
    lines = [
        "## `opsml install service` via the server (issue 5)",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; command: {command}",
        f"- Machine: {os.cpu_count()} cores, {platform.platform()}; server and client on loopback",
        "",
        "| case | value | rate / target | status |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        "",
        "Each command is a fresh `opsml` process (interpreter start-up included). A warm install",
        "reads the lock, re-hashes every installed file against it and makes no request at all,",
        "so its time is the SHA-256 of the installed files plus start-up.",
    ]
    print("\n".join(lines))
    if args.quick:
        return
    write_section(RESULTS, "service-install", lines)


if __name__ == "__main__":
    main()
