"""Write one script's section into benchmarks/RESULTS.md (between its begin/end markers),
leaving the rest of the report as it is."""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_section"]


def write_section(results: Path, name: str, lines: list[str]) -> str:
    """Replace (or append) the section ``name`` of ``results``; returns the section text."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    section = "\n".join([begin, *lines, end])
    text = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    results.write_text(text, encoding="utf-8")
    return section
