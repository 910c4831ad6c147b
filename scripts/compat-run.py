"""Run OpsML 3.0.0-rc.16's own test suite against opsml and hold it to the expected list.

    python3 scripts/compat-run.py [--python PY] [--jobs N] [--expected FILE] [-- pytest args]

The suite (``../shared/opsml-compat``, see its README) is run through its own ``run`` script,
one pytest process per top-level folder of ``tests/`` plus one for its top-level files, ``--jobs``
at a time. Separate processes keep going where pytest alone would stop: a folder whose
``conftest.py`` cannot be imported (``tests/api``, ``tests/cli`` and ``tests/service`` import
``opsml.scouter``/``opsml.app``) fails the whole session in pytest, so it counts here as the one
collection error pytest reports for it, and the other folders still run. Each process runs in its
own temporary copy of the suite, so tests writing into their working folder never meet.

Prints the suite's own count (the sum over all processes), then compares every outcome with
``scripts/compat-expected.txt`` (``<test id> | <reason>`` per line; an id may name a folder or a
file, covering every test in it). Exits non-zero when a test that is not listed fails or errors,
and when a listed entry does not fail (it passes, or matches no test): the list has to stay
honest. docs/compat.md explains every entry.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SUITE = ROOT.parent / "shared" / "opsml-compat"
DEFAULT_EXPECTED = ROOT / "scripts" / "compat-expected.txt"
SKIPPED_DIRS = frozenset({"assets", "__pycache__"})
# The suite's run script excludes tests/integration (norecursedirs); naming it runs it. Its
# test calls OpenAI through pydantic-ai with the keys "configured in the environment": here the
# environment points the openai SDK at opsml's LLM test server (a stdlib-only script, so any
# interpreter runs it), the way opsml.mock.LLMTestServer does for users (docs/compat.md).
LLM_GROUP = "tests/integration"
LLM_SERVER = ROOT / "src" / "opsml" / "mock" / "_llm_server.py"
FAILING = frozenset({"failed", "error"})
# This machine reaches no model hub: offline mode makes the suite's hub downloads fail at once
# instead of retrying with back-off (the tests that need them are listed, see docs/compat.md).
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
GROUP_TIMEOUT = 10 * 60
"""Seconds one pytest process may take before it is stopped and counted as one error."""


@dataclass
class Outcome:
    """One test id and what happened to it (``passed``, ``failed``, ``error``, ``skipped``)."""

    test_id: str
    status: str


@dataclass
class Expected:
    """One line of the expected list."""

    test_id: str
    reason: str
    line: int

    def covers(self, test_id: str) -> bool:
        """Whether this entry names ``test_id``, the file or folder holding it, or the
        parametrised test it is a case of."""
        if test_id == self.test_id:
            return True
        return any(test_id.startswith(self.test_id + sep) for sep in ("::", "/", "["))


@dataclass
class Report:
    """The comparison of a run with the expected list."""

    counts: dict[str, int]
    unexpected: list[Outcome] = field(default_factory=list)
    not_failing: list[Expected] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the run matches the list exactly."""
        return not self.unexpected and not self.not_failing


def read_expected(path: Path) -> list[Expected]:
    """Parse the expected list; blank lines and ``#`` comments are ignored.

    Raises:
        ValueError: A line without ``|``, an empty id or reason, or an id listed twice.
    """
    entries: list[Expected] = []
    seen: set[str] = set()
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        test_id, sep, reason = (part.strip() for part in line.partition("|"))
        if not sep or not test_id or not reason:
            raise ValueError(f"{path}:{number}: expected '<test id> | <reason>', got {raw!r}")
        if test_id in seen:
            raise ValueError(f"{path}:{number}: {test_id} is listed twice")
        seen.add(test_id)
        entries.append(Expected(test_id, reason, number))
    return entries


def _status(case: ET.Element) -> str:
    tags = {child.tag for child in case}
    if "error" in tags:
        return "error"
    if "failure" in tags:
        return "failed"
    if "skipped" in tags:
        return "skipped"
    return "passed"


def _test_id(case: ET.Element, suite_tests: Path, group: str) -> str:
    file = case.get("file") or ""
    classname = case.get("classname") or ""
    name = case.get("name") or ""
    if file:
        module = file.removesuffix(".py").replace("/", ".")
        if name == module:  # the module failed to import: one error for the file
            return file
        classes = classname[len(module) + 1 :] if classname.startswith(module + ".") else ""
        parts = [file, *(c for c in classes.split(".") if c), name]
        return "::".join(parts)
    if not name:  # the session itself failed (a conftest.py that cannot be imported)
        return group
    # A module that failed to import: pytest writes its path with dots.
    as_file = name.replace(".", "/") + ".py"
    return as_file if (suite_tests.parent / as_file).is_file() else name


def read_junit(xml_file: Path, suite_tests: Path, group: str) -> list[Outcome]:
    """The outcomes recorded in one pytest junit XML file (``junit_family=xunit1``).

    A test reported twice (a failure in its call and an error in its teardown) keeps the worse.
    """
    outcomes: dict[str, str] = {}
    rank = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
    for case in ET.parse(xml_file).getroot().iter("testcase"):
        test_id = _test_id(case, suite_tests, group)
        status = _status(case)
        if rank[status] >= rank.get(outcomes.get(test_id, "passed"), 0):
            outcomes[test_id] = status
    return [Outcome(test_id, status) for test_id, status in outcomes.items()]


def compare(outcomes: Iterable[Outcome], expected: Sequence[Expected]) -> Report:
    """Which failures are not listed, and which listed entries did not fail."""
    outcomes = list(outcomes)
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for outcome in outcomes:
        counts[outcome.status] += 1
    report = Report(counts)
    for outcome in outcomes:
        if outcome.status in FAILING and not any(e.covers(outcome.test_id) for e in expected):
            report.unexpected.append(outcome)
    for entry in expected:
        matched = [o for o in outcomes if entry.covers(o.test_id)]
        if not any(o.status in FAILING for o in matched):
            report.not_failing.append(entry)
    return report


def groups(suite_tests: Path) -> list[list[str]]:
    """The pytest invocations: one per top-level folder, one for the top-level files."""
    folders = sorted(
        p
        for p in suite_tests.iterdir()
        if p.is_dir() and p.name not in SKIPPED_DIRS and any(p.rglob("test_*.py"))
    )
    files = sorted(p for p in suite_tests.glob("test_*.py"))
    found = [[f"tests/{p.name}"] for p in folders]
    if files:
        found.append([f"tests/{p.name}" for p in files])
    return found


def _run_group(
    run_script: Path, python: str, paths: list[str], extra: list[str], workdir: Path
) -> tuple[list[str], Path, Path, int]:
    label = paths[0] if len(paths) == 1 else "tests/*.py"
    slug = label.replace("/", "_").replace("*", "top")
    xml_file = workdir / f"{slug}.xml"
    log_file = workdir / f"{slug}.log"
    command = [
        str(run_script),
        python,
        "-q",
        "-rfE",
        "-o",
        "junit_family=xunit1",
        f"--junitxml={xml_file}",
        *paths,
        *extra,
    ]
    with log_file.open("wb") as log, _llm_environment(paths) as llm_env:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **OFFLINE, **llm_env},
            start_new_session=True,  # its own process group, so a hung run stops whole
        )
        try:
            code = process.wait(timeout=GROUP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            code = process.wait()
            log.write(f"\n[compat] stopped after {GROUP_TIMEOUT} s\n".encode())
            xml_file.unlink(missing_ok=True)
    return paths, xml_file, log_file, code


@contextlib.contextmanager
def _llm_environment(paths: list[str]) -> Iterator[dict[str, str]]:
    """For the integration group: an LLM test server and the variables pointing at it."""
    if paths != [LLM_GROUP]:
        yield {}
        return
    server = subprocess.Popen([sys.executable, str(LLM_SERVER)], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline() if server.stdout else ""
        url = line.removeprefix("listening on ").strip()
        yield {
            "OPENAI_BASE_URL": f"{url}/v1",
            "OPENAI_API_URL": f"{url}/v1",
            "OPENAI_API_KEY": "mock-api-key",
            "GEMINI_API_URL": f"{url}/v1beta/models",
            "GEMINI_API_KEY": "mock-api-key",
        }
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout:
            server.stdout.close()


def _last_line(log_file: Path) -> str:
    lines = [line for line in log_file.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip("= ") if lines else "(no output)"


def run_suite(
    python: str,
    suite: Path,
    jobs: int,
    workdir: Path,
    pytest_args: Sequence[str] = (),
    label: str = "compat",
) -> list[Outcome]:
    """Run the whole suite with ``python`` (see the module docstring) and return every
    outcome; prints each pytest process's closing line as it ends."""
    suite_tests = suite / "tests"
    python = str(Path(python).absolute()) if "/" in python else python
    workdir.mkdir(parents=True, exist_ok=True)
    todo = sorted(groups(suite_tests), key=lambda g: g != ["tests/interfaces"])
    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        runs = [
            pool.submit(_run_group, suite / "run", python, paths, list(pytest_args), workdir)
            for paths in todo
        ]
        for future in as_completed(runs):
            paths, xml_file, log_file, _ = future.result()
            name = paths[0] if len(paths) == 1 else "tests/*.py"
            print(f"[{label}] {name}: {_last_line(log_file)}", flush=True)
            if not xml_file.is_file():
                print(f"[{label}] {name}: pytest wrote no report; see {log_file}")
                outcomes.append(Outcome(paths[0], "error"))
                continue
            outcomes.extend(read_junit(xml_file, suite_tests, paths[0]))
    return outcomes


def count_line(counts: dict[str, int], elapsed: float) -> str:
    """The suite's own count, summed over its pytest processes."""
    return (
        f"OpsML rc16 suite: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['error']} errors, {counts['skipped']} skipped in {elapsed:.0f}s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite, print its count and the comparison; return the exit status."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter of the run")
    parser.add_argument("--suite", type=Path, default=DEFAULT_SUITE)
    parser.add_argument("--expected", type=Path, default=DEFAULT_EXPECTED)
    parser.add_argument("--jobs", type=int, default=2, help="pytest processes at a time")
    parser.add_argument("--keep", type=Path, help="keep the logs and junit files here")
    parser.add_argument("pytest_args", nargs="*", help="passed on to every pytest process")
    args = parser.parse_args(argv)

    expected = read_expected(args.expected)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="opsml-compat-"))
    started = time.monotonic()
    outcomes = run_suite(args.python, args.suite, args.jobs, workdir, args.pytest_args)
    elapsed = time.monotonic() - started

    report = compare(outcomes, expected)
    for outcome in sorted(report.unexpected, key=lambda o: o.test_id):
        print(f"[compat] UNEXPECTED {outcome.status.upper()}: {outcome.test_id}")
    for entry in report.not_failing:
        print(
            f"[compat] LISTED BUT NOT FAILING ({args.expected.name}:{entry.line}): "
            f"{entry.test_id} -- remove it from the list"
        )
    print(f"[compat] logs and junit reports: {workdir}")
    print(
        f"[compat] {len(report.unexpected)} unexpected failures, "
        f"{len(report.not_failing)} listed entries not failing "
        f"({len(expected)} entries in {args.expected.name})"
    )
    print(count_line(report.counts, elapsed))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
