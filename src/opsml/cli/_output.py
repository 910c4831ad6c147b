"""What commands print: tables for people, JSON for scripts.

A table fits the terminal when standard output is one; piped or redirected, it is as wide as
its content, so no value is wrapped or cut and every uid can be copied or grepped whole.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

import typer

__all__ = ["JsonFlag", "count", "print_json", "print_table"]

JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print JSON for scripts (keys: see docs/cli.md).")
]
"""The ``--json`` flag of every listing command and of ``opsml get``."""

_WHOLE = ("uid", "token")
"""Columns never wrapped on a terminal either (other columns give up width first)."""

_UNLIMITED = 1_000_000


def count(number: int, noun: str, plural: str | None = None) -> str:
    """``1 card``, ``2 cards``: ``number`` and ``noun`` in the right number."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on standard output."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a table with a title, full width when standard output is not a terminal.

    Args:
        title: Shown above the table.
        columns: The column headings.
        rows: One sequence of cell texts per row, in the order of ``columns``.
    """
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=_UNLIMITED)
    table = Table(title=title)
    for index, column in enumerate(columns):
        whole = column in _WHOLE
        width = max((len(row[index]) for row in rows), default=0) if whole else None
        table.add_column(column, overflow="fold", no_wrap=whole, min_width=width)
    for row in rows:
        table.add_row(*row)
    console.print(table)
