"""The import guard of ``opsml.scouter``: scouter-ml is the optional extra ``monitoring``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opsml.errors import MissingDependencyError

__all__ = ["MONITORING_EXTRA", "SCOUTER_PACKAGE", "scouter_required"]

MONITORING_EXTRA = "monitoring"
"""The opsml extra that installs scouter-ml."""

SCOUTER_PACKAGE = "scouter-ml"
"""The distribution that provides the ``scouter`` module."""


@contextmanager
def scouter_required() -> Iterator[None]:
    """Turn "no module named scouter" into :class:`MissingDependencyError`.

    Other import errors (a broken install) propagate as they are.

    Raises:
        MissingDependencyError: scouter-ml is not installed (extra ``monitoring``).
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "scouter":
            raise
        raise MissingDependencyError(SCOUTER_PACKAGE, MONITORING_EXTRA) from exc
