"""``make run``'s venv: only ``pip install -e '.[server]'`` (no torch, pandas or numpy)
starts ``opsml server start`` with its UI, says which registry it serves, and is as small
as the README says.

``make test`` builds ``.venv-run`` before the suite; without it the test fails under CI and
is skipped elsewhere (``make .venv-run/.installed`` builds it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _server_proc import start_server

ROOT = Path(__file__).resolve().parents[2]
RUN_VENV = ROOT / ".venv-run"
README = ROOT / "README.md"
pytestmark = pytest.mark.needs("fastapi", "uvicorn")


@pytest.fixture(scope="module")
def run_venv() -> Path:
    if not (RUN_VENV / ".installed").exists():
        message = f"{RUN_VENV} is not built: run `make .venv-run/.installed`"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return RUN_VENV


def _size_mb(folder: Path) -> float:
    total = 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
    return total / 1e6


def test_the_server_and_its_ui_run_from_the_light_venv(run_venv: Path, tmp_path: Path) -> None:
    python = run_venv / "bin" / "python"
    heavy = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util as u; print([m for m in "
            "('torch', 'pandas', 'numpy', 'sklearn', 'pytest') if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert heavy == "[]"
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSML_", "VIRTUAL_ENV"))}
    env |= {"HOME": str(home), "XDG_CACHE_HOME": str(home / "cache")}
    proc, base = start_server([str(run_venv / "bin" / "opsml"), "server", "start"], tmp_path, env)
    try:
        for page in ("/", "/ui/model", "/ui/data"):
            response = httpx.get(f"{base}{page}", timeout=10)
            assert response.status_code == 200, page
            assert response.headers["content-type"].startswith("text/html")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    log = (tmp_path / "server.log").read_text()
    assert f"opsml server: database {tmp_path / 'opsml.db'}, storage " in log
    assert "this directory's defaults" in log


def test_the_readme_states_the_venvs_size(run_venv: Path) -> None:
    found = re.search(r"\((\d+) packages, about (\d+) MB\)", README.read_text(encoding="utf-8"))
    assert found, "README.md should state the size of make run's venv"
    stated_packages, stated_mb = int(found.group(1)), int(found.group(2))
    listed = subprocess.run(
        [str(run_venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert abs(len(listed) - stated_packages) <= 5, listed
    assert abs(_size_mb(run_venv) - stated_mb) <= 0.3 * stated_mb
