"""Web UI list pages with 100 000 cards and the runs table with 10 000 runs: median and
worst-of-medians latency per page.

The registry (SQLite) holds one registered PromptCard cloned into 100 000 records, 1 000
names in 20 spaces, and 11 000 experiment runs (10 000 in space ``lab``) with 20 summarised
metrics and 3 parameters each (the same seeding as tests/integration/test_ui_scale.py,
which checks that every query of these pages is served by an index). The runs pages sort
by start time, duration and a metric's latest/min/max value, filter on metrics, parameters
and status, and include a second page (keyset cursor) of each sort. Each page is requested
through the app in-process (``fastapi.testclient``, no network), after one warm-up request.

Usage::

    python benchmarks/ui_pages.py                # writes its section of benchmarks/RESULTS.md
    python benchmarks/ui_pages.py --samples 5    # into benchmarks/.work/RESULTS-partial.md

Target (issues 9 and 22): every page answers in under 100 ms (median). Waits for a quiet machine
first and measures again when other processes took CPU meanwhile (``_load.py``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _load import command_line, now_utc  # noqa: E402
from _sections import (  # noqa: E402
    add_load_arguments,
    gate_from,
    results_path,
    section_header,
    write_section,
)

BUDGET_MS = 100.0
SAMPLES = 20


def measure_pages(samples: int) -> list[tuple[str, float, float]]:
    """Seed the registry, then (url, median ms, max ms) of each page."""
    with tempfile.TemporaryDirectory(prefix="opsml-ui-bench-") as tmp:
        os.environ["OPSML_TRACKING_URI"] = f"sqlite:///{tmp}/opsml.db"
        os.environ["OPSML_STORAGE_URI"] = f"{tmp}/artifacts"
        os.environ["HOME"] = tmp
        from fastapi.testclient import TestClient
        from test_ui_scale import PAGES, RUN_PAGES, _next_page_url, _seed, _seed_runs

        from opsml import CardRegistry, Prompt, PromptCard, RegistryType
        from opsml.server import create_app

        template = PromptCard(prompt=Prompt(message="hi"), space="seed", name="seed")
        CardRegistry(RegistryType.Prompt).register_card(template)
        _seed(template)
        _seed_runs()
        client = TestClient(create_app(), base_url="http://localhost")
        second_pages = [_next_page_url(client, url) for url in RUN_PAGES[:5]]
        rows = []
        for url in [*PAGES, *RUN_PAGES, *second_pages]:
            assert client.get(url).status_code == 200, url
            timings = []
            for _ in range(samples):
                began = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200, url
            rows.append((url, statistics.median(timings), max(timings)))
            print(f"{url}: median {rows[-1][1]:.1f} ms, max {rows[-1][2]:.1f} ms", flush=True)
    return rows


def main() -> None:
    """Measure the pages and write the ``ui-pages`` section."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument(
        "--results",
        type=Path,
        help="report to write the section into (default: benchmarks/RESULTS.md with the "
        "default --samples, else benchmarks/.work/RESULTS-partial.md)",
    )
    add_load_arguments(parser)
    args = parser.parse_args()
    gate, date, command = gate_from(args), now_utc(), command_line()
    rows = gate.measure("the UI pages", lambda: measure_pages(args.samples))
    from test_ui_scale import CARDS, RUNS

    worst = max(median for _, median, _ in rows)
    status = "PASS" if worst < BUDGET_MS else "FAIL"
    lines = [
        "## Web UI list pages, 100 000 cards, and the runs table, 10 000 runs (issues 9, 22)",
        "",
        *section_header(gate, date, command),
        "",
        f"{CARDS} PromptCard records and {RUNS} runs in one space (20 metrics each) on "
        f"SQLite, in-process requests, {args.samples} samples "
        f"per page after one warm-up. Target: every page's median under {BUDGET_MS:.0f} ms: "
        f"**{status}** (slowest median {worst:.1f} ms).",
        "",
        "| page | median ms | max ms |",
        "|---|---|---|",
        *(f"| `{url}` | {median:.1f} | {high:.1f} |" for url, median, high in rows),
    ]
    path = results_path(args.results, reference=args.samples == SAMPLES)
    write_section(path, "ui-pages", lines)
    print(f"[bench] section ui-pages written to {path}")


if __name__ == "__main__":
    main()
