"""``make test-compat``'s judge (scripts/compat-run.py): which outcomes fail the target, and the
expected list it reads, which docs/compat.md must explain entry by entry."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compat_run", ROOT / "scripts" / "compat-run.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["compat_run"] = module
    spec.loader.exec_module(module)
    return module


run = _runner()

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="tests.test_a" name="test_ok" file="tests/test_a.py"/>
<testcase classname="tests.test_a.TestGroup" name="test_param[x-1]" file="tests/test_a.py">
  <failure message="assert 1 == 2"/></testcase>
<testcase classname="tests.test_a" name="test_torn" file="tests/test_a.py">
  <failure message="boom"/></testcase>
<testcase classname="tests.test_a" name="test_torn" file="tests/test_a.py">
  <error message="teardown"/></testcase>
<testcase classname="tests.test_a" name="test_skip" file="tests/test_a.py">
  <skipped message="darwin only"/></testcase>
<testcase classname="" name="tests.sub.test_b" file="tests/sub/test_b.py">
  <error message="collection failure"/></testcase>
</testsuite></testsuites>
"""


def _expected(tmp_path: Path, text: str) -> list[object]:
    path = tmp_path / "expected.txt"
    path.write_text(text)
    return list(run.read_expected(path))


def test_junit_outcomes_become_pytest_node_ids(tmp_path: Path) -> None:
    (tmp_path / "junit.xml").write_text(JUNIT)
    outcomes = {
        o.test_id: o.status for o in run.read_junit(tmp_path / "junit.xml", tmp_path, "tests/sub")
    }
    assert outcomes == {
        "tests/test_a.py::test_ok": "passed",
        "tests/test_a.py::TestGroup::test_param[x-1]": "failed",
        "tests/test_a.py::test_torn": "error",  # the worse of its two reports
        "tests/test_a.py::test_skip": "skipped",
        "tests/sub/test_b.py": "error",  # a module that could not be imported
    }


def test_a_session_that_never_started_is_one_error_for_its_folder(tmp_path: Path) -> None:
    (tmp_path / "junit.xml").write_text(
        '<testsuites><testsuite><testcase classname="" name="" file="">'
        '<error message="collection failure"/></testcase></testsuite></testsuites>'
    )
    [outcome] = run.read_junit(tmp_path / "junit.xml", tmp_path, "tests/api")
    assert (outcome.test_id, outcome.status) == ("tests/api", "error")


def test_unlisted_failures_and_listed_passes_both_fail_the_target(tmp_path: Path) -> None:
    outcomes = [
        run.Outcome("tests/api", "error"),
        run.Outcome("tests/x.py::test_a[1]", "failed"),
        run.Outcome("tests/x.py::test_a[2]", "passed"),
        run.Outcome("tests/y.py::test_new", "failed"),
        run.Outcome("tests/z.py::test_fixed", "passed"),
    ]
    expected = _expected(
        tmp_path,
        "# comment\n\n"
        "tests/api | issue 18\n"
        "tests/x.py::test_a | one case fails\n"
        "tests/z.py::test_fixed | was broken\n"
        "tests/gone.py | matches nothing\n",
    )
    report = run.compare(outcomes, expected)
    assert [o.test_id for o in report.unexpected] == ["tests/y.py::test_new"]
    assert [e.test_id for e in report.not_failing] == ["tests/z.py::test_fixed", "tests/gone.py"]
    assert report.counts == {"passed": 2, "failed": 2, "error": 1, "skipped": 0}
    assert not report.ok


def test_a_run_matching_the_list_passes(tmp_path: Path) -> None:
    expected = _expected(tmp_path, "tests/sub | a folder covers its tests\n")
    outcomes = [run.Outcome("tests/sub/test_b.py::test_c", "error"), run.Outcome("t.py", "passed")]
    assert run.compare(outcomes, expected).ok


def test_an_entry_does_not_cover_a_test_that_only_shares_a_prefix(tmp_path: Path) -> None:
    [entry] = _expected(tmp_path, "tests/x.py::test_a | reason\n")
    assert not entry.covers("tests/x.py::test_ab")  # type: ignore[attr-defined]
    assert entry.covers("tests/x.py::test_a[p]")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "text", ["tests/x.py no reason\n", "tests/x.py |\n", "a | r\na | r again\n"]
)
def test_malformed_lists_are_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(ValueError, match=r"expected\.txt:"):
        _expected(tmp_path, text)


def test_every_entry_of_the_project_list_is_explained_in_the_docs() -> None:
    entries = run.read_expected(ROOT / "scripts" / "compat-expected.txt")
    docs = (ROOT / "docs" / "compat.md").read_text()
    assert entries
    assert [e.test_id for e in entries if f"`{e.test_id}`" not in docs] == []


def test_the_integration_folder_runs_against_an_llm_test_server(tmp_path: Path) -> None:
    import json
    import urllib.request

    suite = tmp_path / "tests"
    for folder in ("integration", "llm", "assets"):
        (suite / folder).mkdir(parents=True)
        (suite / folder / "test_x.py").write_text("")
    assert run.groups(suite) == [["tests/integration"], ["tests/llm"]]

    with run._llm_environment(["tests/llm"]) as plain:
        assert plain == {}
    with run._llm_environment(["tests/integration"]) as env:
        assert env["OPENAI_API_KEY"]
        request = urllib.request.Request(
            f"{env['OPENAI_BASE_URL']}/chat/completions",
            data=json.dumps({"model": "m", "messages": []}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.load(answer)["choices"][0]["message"]["content"]
