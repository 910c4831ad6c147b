"""Guarded imports of optional dependencies."""

from __future__ import annotations

import importlib
from types import ModuleType

from opsml.errors import MissingDependencyError

__all__ = ["require"]


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
