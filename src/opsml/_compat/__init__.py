"""Guarded imports of optional dependencies."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from opsml.errors import MissingDependencyError

__all__ = ["LLM_EXTRA", "MONITORING_EXTRA", "require", "scouter_required"]

MONITORING_EXTRA = "monitoring"
"""The opsml extra that installs scouter-ml (drift monitoring, ``opsml.scouter``)."""

LLM_EXTRA = "llm"
"""The opsml extra that installs scouter-ml to run prompts (``opsml.llm`` agents)."""


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``extra``.

    Args:
        module: Dotted module name, e.g. ``"sklearn"``.
        extra: The opsml extra that installs it, e.g. ``"sklearn"``.

    Returns:
        The imported module.

    Raises:
        MissingDependencyError: The module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module.split(".", maxsplit=1)[0], extra) from exc


@contextmanager
def scouter_required(extra: str = MONITORING_EXTRA) -> Iterator[None]:
    """Turn "no module named scouter" inside the block into :class:`MissingDependencyError`.

    Used around ``from scouter... import ...`` so that type checkers still see the names.
    Other import errors (a broken install) propagate as they are.

    Args:
        extra: The extra to name: ``monitoring`` (drift) or ``llm`` (running prompts).

    Raises:
        MissingDependencyError: scouter-ml is not installed (naming ``extra``).
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "scouter":
            raise
        raise MissingDependencyError("scouter-ml", extra) from exc
