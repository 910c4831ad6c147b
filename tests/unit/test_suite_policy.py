"""The suite's own policy (tests/conftest.py), checked on tiny suites in a pytest subprocess:
under ``CI=true`` a skip outside the allow-list fails the run, with xdist too; the
``needs`` marker skips only in the core-only run; property tests keep the CI profile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).parents[1] / "conftest.py"

FILES = {
    "test_plain.py": """
import pytest

def test_passes():
    assert 1 + 1 == 2

def test_skips():
    pytest.skip("the service is not reachable")
""",
    "test_core.py": """
import pytest

@pytest.mark.needs("opsml_no_such_module")
def test_needs_a_missing_module():
    import opsml_no_such_module

def test_skips_like_the_core_only_run():
    pytest.skip("core-only run: the server extra is not installed")

@pytest.mark.core_only
def test_only_meaningful_without_extras():
    assert True
""",
    "test_module_skip.py": """
import pytest

pytest.skip("the whole module needs a browser", allow_module_level=True)

def test_never_runs():
    assert False
""",
    "test_drawn.py": """
import os

from hypothesis import given, settings, strategies as st

@settings(max_examples=50)
@given(st.integers())
def test_draws(n):
    with open(os.environ["DRAWN"], "a") as out:
        out.write(f"{n}\\n")
""",
    "test_property.py": """
from hypothesis import given, settings, strategies as st

@settings(derandomize=False)
@given(st.integers())
def test_random_again(n):
    assert isinstance(n, int)
""",
}


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """A folder with the project's conftest and the tiny test modules above."""
    (tmp_path / "conftest.py").write_text(CONFTEST.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider -ra\n")
    for name, text in FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def _pytest(
    suite: Path, *args: str, ci: bool, core_only: bool = False, **extra: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "OPSML_TEST_CORE_ONLY")}
    env.update(extra)
    if ci:
        env["CI"] = "true"
    if core_only:
        env["OPSML_TEST_CORE_ONLY"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_skip_fails_a_ci_run_and_is_listed(suite: Path, workers: list[str]) -> None:
    result = _pytest(suite, "test_plain.py", *workers, ci=True)

    assert result.returncode == 1, result.stdout
    assert "1 passed, 1 skipped" in result.stdout
    assert "1 skipped under CI=true: the run fails" in result.stdout
    assert "SKIPPED test_plain.py::test_skips: the service is not reachable" in result.stdout


def test_outside_ci_a_skip_is_only_reported(suite: Path) -> None:
    result = _pytest(suite, "test_plain.py", ci=False)

    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout
    assert "under CI=true" not in result.stdout


def test_a_module_skipped_at_collection_fails_a_ci_run(suite: Path) -> None:
    result = _pytest(suite, "test_module_skip.py", "-n", "2", ci=True)

    assert result.returncode == 1, result.stdout
    assert "SKIPPED test_module_skip.py: the whole module needs a browser" in result.stdout


def test_the_core_only_run_may_skip_what_needs_an_extra(suite: Path) -> None:
    result = _pytest(suite, "test_core.py", ci=True, core_only=True)

    assert result.returncode == 0, result.stdout
    assert "1 passed, 2 skipped" in result.stdout
    assert "core-only run: needs opsml_no_such_module (an extra)" in result.stdout


def test_elsewhere_a_missing_module_fails_and_core_only_tests_are_deselected(
    suite: Path,
) -> None:
    result = _pytest(suite, "test_core.py", ci=True)

    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 skipped, 1 deselected" in result.stdout
    assert "ModuleNotFoundError: No module named 'opsml_no_such_module'" in result.stdout
    assert (
        "SKIPPED test_core.py::test_skips_like_the_core_only_run: core-only run: the server "
        "extra is not installed" in result.stdout
    )


def _drawn(suite: Path, ci: bool, run: int) -> list[str]:
    drawn = suite / f"drawn-{ci}-{run}.txt"
    assert _pytest(suite, "test_drawn.py", ci=ci, DRAWN=str(drawn)).returncode == 0
    return drawn.read_text().splitlines()


def test_property_tests_draw_the_same_examples_under_ci_only(suite: Path) -> None:
    assert _drawn(suite, ci=True, run=1) == _drawn(suite, ci=True, run=2)
    assert _drawn(suite, ci=False, run=1) != _drawn(suite, ci=False, run=2)


def test_a_property_test_may_not_undo_the_ci_seed(suite: Path) -> None:
    refused = _pytest(suite, "test_property.py", "-n", "2", ci=True)
    assert refused.returncode == 1, refused.stdout
    assert "1 error" in refused.stdout
    assert "its @settings override derandomize or database" in refused.stdout

    assert _pytest(suite, "test_property.py", ci=False).returncode == 0
