"""What every command shares: one clean line on the terminal for an opsml error."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer

from opsml.errors import OpsmlError

__all__ = ["fail", "guard"]

T = TypeVar("T")


def fail(message: str) -> None:
    """Print ``error: <message>`` on standard error and exit with status 1."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def guard(fn: Callable[[], T]) -> T:
    """Run ``fn``; an opsml error becomes one line (its class and message) and exit 1."""
    try:
        return fn()
    except OpsmlError as exc:
        fail(f"{type(exc).__name__}: {exc}")
    raise AssertionError("unreachable")
