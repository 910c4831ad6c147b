"""Every ```python block in README.md and docs/ runs, so the documentation cannot rot.

The blocks of one page run in order in one fresh interpreter (like a notebook), in an empty
temporary working directory with no OPSML_* variables set. A block preceded by the line
``<!-- no-test -->`` is skipped (used only for snippets that need external services).
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


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_doc_examples_run(page: Path, tmp_path: Path) -> None:
    blocks = _blocks(page)
    assert blocks, f"{page.name} has python blocks but all are skipped"
    script = "\n\n".join(
        f"# --- block {i + 1} of {page.name}\n{code}" for i, code in enumerate(blocks)
    )
    (tmp_path / "doc_example.py").write_text(script, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSML_")}
    env.pop("APP_ENV", None)
    result = subprocess.run(
        [sys.executable, "doc_example.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{page.name} examples failed:\n{result.stderr[-4000:]}"
