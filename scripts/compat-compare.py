"""OpsML 3.0.0-rc.16's own suite, run against opsml and against OpsML 3.0.0rc16 itself.

    python3 scripts/compat-compare.py [--jobs N] [--results benchmarks/RESULTS.md]

Runs the whole suite twice in one go, through the same runner as ``make test-compat``
(``scripts/compat-run.py``): with ``.venv-compat`` (opsml, built by ``make test-compat``) and
with ``.bench-venvs/opsml3-compat`` (the same pin as ``benchmarks/setup_venvs.sh opsml3``,
``opsml==3.0.0rc16``, plus the suite's libraries; built here when missing, so the benchmark
venv itself is left as it is). Writes the counts, per folder of the suite and in total, as the
``compat-suite`` section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
OURS = ROOT / ".venv-compat"
OPSML3 = ROOT / ".bench-venvs" / "opsml3-compat"
OPSML3_REQUIREMENTS = ROOT / "scripts" / "compat-opsml3-requirements.txt"
SECTION = "compat-suite"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def build_opsml3_venv() -> Path:
    """The OpsML 3 venv with the suite's libraries (built once; keyed on the requirements)."""
    key = "\n".join(
        (ROOT / "scripts" / name).read_text(encoding="utf-8")
        for name in ("compat-opsml3-requirements.txt", "compat-requirements.txt")
    )
    marker = OPSML3 / ".compat-requirements"
    python = OPSML3 / "bin" / "python"
    if python.exists() and marker.exists() and marker.read_text(encoding="utf-8") == key:
        return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(OPSML3)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    torch = ROOT / "scripts" / "install-torch-cpu.sh"
    subprocess.run(["bash", str(torch), str(python)], check=True)
    subprocess.run(
        [*pip, "-c", str(ROOT / "constraints.txt"), "-r", str(OPSML3_REQUIREMENTS)], check=True
    )
    marker.write_text(key, encoding="utf-8")
    return python


def _folder(test_id: str) -> str:
    parts = test_id.split("::", maxsplit=1)[0].split("/")
    return "/".join(parts[:2]) if not parts[1].endswith(".py") else "tests/*.py"


def _cell(counts: Counter[str]) -> str:
    return f"{counts['passed']} / {counts['failed']} / {counts['error']} / {counts['skipped']}"


def main(argv: list[str] | None = None) -> int:
    """Run both, write the section; returns 0."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    args = parser.parse_args(argv)

    runner = _load("compat_run", ROOT / "scripts" / "compat-run.py")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    sections = _load("_sections", ROOT / "benchmarks" / "_sections.py")
    load = sys.modules["_load"]  # imported by _sections

    if not (OURS / "bin" / "python").exists():
        subprocess.run(["make", "-C", str(ROOT), f"{OURS.name}/.installed"], check=True)
    tools = {"opsml": OURS / "bin" / "python", "OpsML 3.0.0rc16": build_opsml3_venv()}

    per_folder: dict[str, dict[str, Counter[str]]] = {}
    totals: dict[str, Counter[str]] = {}
    seconds: dict[str, float] = {}
    for tool, python in tools.items():
        started = time.monotonic()
        workdir = Path(tempfile.mkdtemp(prefix="opsml-compat-compare-"))
        outcomes = runner.run_suite(str(python), runner.DEFAULT_SUITE, args.jobs, workdir)
        seconds[tool] = time.monotonic() - started
        totals[tool] = Counter(o.status for o in outcomes)
        for outcome in outcomes:
            folder = per_folder.setdefault(_folder(outcome.test_id), {})
            folder.setdefault(tool, Counter())[outcome.status] += 1
        print(f"[compare] {tool}: {runner.count_line(totals[tool], seconds[tool])}")

    names = list(tools)
    lines = [
        "## OpsML 3.0.0-rc.16's own test suite: opsml vs OpsML 3.0.0rc16 (issue 16)",
        "",
        f"- Date: {load.now_utc()}",
        "- Command: `python3 scripts/compat-compare.py` (after `make test-compat` built "
        "`.venv-compat`)",
        f"- Machine: {load.machine()}; load average {os.getloadavg()[0]:.2f} when written "
        "(the counts do not depend on it; the seconds do)",
        "",
        "The whole suite of `../shared/opsml-compat` (pytest 7, one process per folder, "
        f"{args.jobs} at a time), in one run, once per implementation. Each cell: passed / failed "
        "/ errors / skipped. A folder whose `conftest.py` cannot be imported counts as one error "
        "(as pytest reports it). Why each opsml failure happens: [docs/compat.md]"
        "(../docs/compat.md).",
        "",
        "| folder | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for folder_name in sorted(per_folder):
        cells = [_cell(per_folder[folder_name].get(tool, Counter())) for tool in names]
        lines.append(f"| `{folder_name}` | " + " | ".join(cells) + " |")
    lines.append("| **total** | " + " | ".join(f"**{_cell(totals[t])}**" for t in names) + " |")
    lines.append("| seconds | " + " | ".join(f"{seconds[t]:.0f}" for t in names) + " |")
    sections.write_section(args.results, SECTION, lines)
    print(f"[compare] wrote the {SECTION} section of {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
