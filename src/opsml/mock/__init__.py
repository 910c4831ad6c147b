"""Test helpers for users' own test suites."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from opsml.mock._server import OpsmlServerContext, OpsmlTestServer

__all__ = ["OpsmlServerContext", "OpsmlTestServer", "RegistryTestHelper"]

_VARS = ("OPSML_TRACKING_URI", "OPSML_STORAGE_URI")


class RegistryTestHelper:
    """A throwaway local registry (SQLite file and storage folder in a temporary directory).

    ``setup()`` points ``OPSML_TRACKING_URI`` / ``OPSML_STORAGE_URI`` at it; registries
    created afterwards use it. ``cleanup()`` restores the variables and deletes the folder.
    Also usable as a context manager.
    """

    def __init__(self) -> None:
        self.path: Path | None = None
        self._saved: dict[str, str | None] = {}

    def setup(self) -> None:
        """Create the temporary registry and point the environment at it."""
        self.path = Path(tempfile.mkdtemp(prefix="opsml-test-"))
        self._saved = {var: os.environ.get(var) for var in _VARS}
        os.environ["OPSML_TRACKING_URI"] = f"sqlite:///{(self.path / 'opsml.db').as_posix()}"
        os.environ["OPSML_STORAGE_URI"] = str(self.path / "opsml_registries")

    def cleanup(self) -> None:
        """Restore the environment and delete the temporary registry."""
        for var, value in self._saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        self._saved = {}
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None

    def __enter__(self) -> RegistryTestHelper:
        self.setup()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
