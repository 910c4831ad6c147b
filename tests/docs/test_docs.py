"""Every ```python block in README.md and docs/ runs, so the documentation cannot rot.

As a user would try them: every page, README first, in one folder that starts empty, one
after the other, each page's blocks in order in one fresh interpreter (like a notebook),
with no OPSML_* variables set. So the pages share the folder's default registry: a page
that registers a card another page registered before (the same space/name and version)
fails here as it would for the user. A block preceded by the line ``<!-- no-test -->`` is
skipped (used only for snippets that need external services).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
_BLOCK = re.compile(r"(<!-- no-test -->\s*\n)?```python\n(.*?)```", re.DOTALL)


def _pages() -> list[Path]:
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    return [p for p in pages if "```python" in p.read_text(encoding="utf-8")]


def _blocks(page: Path) -> list[str]:
    return [code for skip, code in _BLOCK.findall(page.read_text(encoding="utf-8")) if not skip]


def _run_page(page: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    blocks = _blocks(page)
    assert blocks, f"{page.name} has python blocks but all are skipped"
    script = "\n\n".join(
        f"# --- block {i + 1} of {page.name}\n{code}" for i, code in enumerate(blocks)
    )
    path = folder / f"doc_example_{page.stem}.py"
    path.write_text(script, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSML_")}
    env.pop("APP_ENV", None)
    return subprocess.run(
        [sys.executable, path.name],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow  # about a minute: every page's examples
def test_every_page_runs_in_one_folder_in_sequence(tmp_path: Path) -> None:
    pages = _pages()
    assert pages[0].name == "README.md"
    failed = []
    for page in pages:
        result = _run_page(page, tmp_path)
        if result.returncode != 0:
            failed.append(
                f"--- {page.name} (after {pages.index(page)} pages):\n{result.stderr[-3000:]}"
            )
    assert not failed, "doc examples failed:\n" + "\n".join(failed)


def test_the_pages_run_again_in_the_same_folder(tmp_path: Path) -> None:
    """README and getting-started, twice: a user runs the first examples more than once."""
    first = [ROOT / "README.md", DOCS / "getting-started.md"]
    for page in [*first, *first]:
        result = _run_page(page, tmp_path)
        assert result.returncode == 0, f"{page.name} failed:\n{result.stderr[-3000:]}"
