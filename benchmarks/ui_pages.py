"""Web UI list pages with 100 000 cards: median and worst-of-medians latency per page.

The registry (SQLite) holds one registered PromptCard cloned into 100 000 records, 1 000
names in 20 spaces (the same seeding as tests/integration/test_ui_scale.py, which checks
that every query of these pages is served by an index). Each page is requested through the
app in-process (``fastapi.testclient``, no network), after one warm-up request.

Usage::

    python benchmarks/ui_pages.py [--samples 20]

Writes the ``ui-pages`` section of benchmarks/RESULTS.md. Target (issue 9): every page
answers in under 100 ms (median).
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

from _sections import write_section  # noqa: E402

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
BUDGET_MS = 100.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="opsml-ui-bench-") as tmp:
        os.environ["OPSML_TRACKING_URI"] = f"sqlite:///{tmp}/opsml.db"
        os.environ["OPSML_STORAGE_URI"] = f"{tmp}/artifacts"
        os.environ["HOME"] = tmp
        from fastapi.testclient import TestClient
        from test_ui_scale import CARDS, PAGES, _seed

        from opsml import CardRegistry, Prompt, PromptCard, RegistryType
        from opsml.server import create_app

        template = PromptCard(prompt=Prompt(message="hi"), space="seed", name="seed")
        CardRegistry(RegistryType.Prompt).register_card(template)
        _seed(template)
        client = TestClient(create_app(), base_url="http://localhost")
        rows = []
        for url in PAGES:
            assert client.get(url).status_code == 200, url
            timings = []
            for _ in range(args.samples):
                began = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200, url
            rows.append((url, statistics.median(timings), max(timings)))
            print(f"{url}: median {rows[-1][1]:.1f} ms, max {rows[-1][2]:.1f} ms", flush=True)
    worst = max(median for _, median, _ in rows)
    status = "PASS" if worst < BUDGET_MS else "FAIL"
    load = os.getloadavg()[0]
    lines = [
        "## Web UI list pages, 100 000 cards (issue 9)",
        "",
        f"`python benchmarks/ui_pages.py --samples {args.samples}` ({CARDS} PromptCard records "
        f"on SQLite, in-process requests, {args.samples} samples per page after one warm-up; "
        f"load average {load:.2f} at the end). Target: every page's median under "
        f"{BUDGET_MS:.0f} ms: **{status}** (slowest median {worst:.1f} ms).",
        "",
        "| page | median ms | max ms |",
        "|---|---|---|",
        *(f"| `{url}` | {median:.1f} | {high:.1f} |" for url, median, high in rows),
    ]
    write_section(RESULTS, "ui-pages", lines)


if __name__ == "__main__":
    main()
