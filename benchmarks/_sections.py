"""Sections of benchmarks/RESULTS.md: each script writes its own, between its markers.

``run.py`` writes the head of the report and rewrites the whole file on every run; the
other scripts of ``make bench`` (and ``make test-compat``) each replace their section with
:func:`write_section`. A section starts with the same facts in every script
(:func:`section_header`: date, command, machine, load average, validity) and carries a
hidden ``<!-- written: DATE -->`` stamp. When ``run.py`` rewrites the report it keeps the
sections already there but marks each one *stale* with its date (:func:`mark_stale`); the
scripts that run after it in ``make bench`` replace theirs, so after a complete
``make bench`` only the sections of scripts that did not run (or failed) are still marked.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from _load import DEFAULT_MAX_FOREIGN, DEFAULT_MAX_WAIT, LoadGate, machine, now_utc

__all__ = [
    "RESULTS",
    "add_load_arguments",
    "gate_from",
    "mark_stale",
    "results_path",
    "section_header",
    "sections",
    "write_section",
]

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
PARTIAL = BENCH / ".work" / "RESULTS-partial.md"

_SECTION = re.compile(r"<!-- ([\w-]+):begin -->.*?<!-- \1:end -->", re.DOTALL)
_WRITTEN = re.compile(r"<!-- written: ([^>]*?) -->")
_DATE = re.compile(r"Date: (\d{4}-\d\d-\d\d \d\d:\d\d UTC)")
_STALE = re.compile(r"\n\n> \*\*Stale\*\*:[^\n]*")


def write_section(results: Path, name: str, lines: list[str]) -> str:
    """Replace (or append) the section ``name`` of ``results``; returns the section text.

    The section gets a ``<!-- written: DATE -->`` stamp after its begin marker (the date
    :func:`mark_stale` shows when a later run of ``run.py`` did not re-run it).
    """
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    section = "\n".join([begin, f"<!-- written: {now_utc()} -->", *lines, end])
    text = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(text, encoding="utf-8")
    return section


def sections(path: Path) -> list[str]:
    """The sections in the report at ``path`` (each from its begin to its end marker)."""
    if not path.exists():
        return []
    return [m.group(0) for m in _SECTION.finditer(path.read_text(encoding="utf-8"))]


def mark_stale(section: str, run_date: str) -> str:
    """``section`` with a note that the run of ``run_date`` did not re-run it, and when it
    was measured (its written stamp, else its ``Date:`` line, else "undated")."""
    found = _WRITTEN.search(section) or _DATE.search(section)
    when = found.group(1) if found else "an unknown date (no date recorded)"
    note = (
        f"> **Stale**: measured {when}; its script did not run in the benchmark run of "
        f"{run_date}, so these numbers may not describe the current code."
    )
    section = _STALE.sub("", section)
    lines = section.split("\n")
    heading = next((i for i, line in enumerate(lines) if line.startswith("## ")), 0)
    lines.insert(heading + 1, "\n" + note)
    return "\n".join(lines)


def section_header(gate: LoadGate, date: str, command: str) -> list[str]:
    """The facts every section starts with: date, command, machine, load and validity."""
    return [
        f"- Date: {date}",
        f"- Command: `{command}`",
        f"- Machine: {machine()}",
        *(f"- {line}" for line in gate.summary()),
    ]


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """The load-check options every benchmark script takes."""
    parser.add_argument(
        "--max-wait",
        type=float,
        default=DEFAULT_MAX_WAIT,
        metavar="SECONDS",
        help="wait at most this long for the load average to fall to the core count "
        f"(default {DEFAULT_MAX_WAIT:.0f}; 0: do not wait, a loaded machine makes the run "
        "invalid)",
    )
    parser.add_argument(
        "--max-foreign",
        type=float,
        default=DEFAULT_MAX_FOREIGN,
        metavar="CORES",
        help="cores other processes may use on average while a group runs before it is "
        f"measured again (default {DEFAULT_MAX_FOREIGN:g})",
    )


def gate_from(args: argparse.Namespace, repeats: int = 1) -> LoadGate:
    """The :class:`LoadGate` the parsed load-check options ask for."""
    return LoadGate(max_wait=args.max_wait, max_foreign=args.max_foreign, repeats=repeats)


def results_path(explicit: Path | None, reference: bool) -> Path:
    """Where a script writes its section: ``--results`` if given, else RESULTS.md for a
    reference run (the script's defaults) and ``.work/RESULTS-partial.md`` otherwise."""
    if explicit is not None:
        return explicit
    return RESULTS if reference else PARTIAL
