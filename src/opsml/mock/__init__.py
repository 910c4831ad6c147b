"""Test helpers for users' own test suites.

``OpsmlTestServer`` (a real opsml server), ``LLMTestServer`` (a deterministic LLM API),
``RegistryTestHelper`` (a throwaway local registry) and ``MockConfig`` (scouter-ml's
transport that sends nothing, extra ``monitoring``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from opsml.mock._llm import LLMTestServer
from opsml.mock._scouter import MockScouterServer
from opsml.mock._server import OpsmlServerContext, OpsmlTestServer

__all__ = [
    "SEEDED_DATA_VERSIONS",
    "LLMTestServer",
    "MockConfig",
    "MockScouterServer",
    "OpsmlServerContext",
    "OpsmlTestServer",
    "RegistryTestHelper",
]


_VARS = ("OPSML_TRACKING_URI", "OPSML_STORAGE_URI")

# The DataCards a fresh helper registry holds, as OpsML 3's helper seeds them: space, name and
# version of each (ten versions of repo1/data1, prereleases and build metadata included).
SEEDED_DATA_VERSIONS = (
    "1.0.0-alpha+build1",
    "1.0.1-beta+build2",
    "1.1.0-gamma+build3",
    "1.1.1",
    "2.0.0",
    "2.0.1",
    "2.1.0",
    "2.1.1",
    "3.0.0",
    "3.0.1",
)
SEEDED_SPACE = "repo1"
SEEDED_NAME = "data1"


class RegistryTestHelper:
    """A throwaway local registry (SQLite file and storage folder in a temporary directory),
    seeded with sample cards.

    ``setup()`` points ``OPSML_TRACKING_URI`` / ``OPSML_STORAGE_URI`` at it and, like OpsML 3's
    helper, registers ten DataCards ``repo1/data1`` (versions :data:`SEEDED_DATA_VERSIONS`,
    each holding one SQL query), so that listing and version queries have something to find;
    registries created afterwards use it. ``cleanup()`` restores the variables and deletes the
    folder. Also usable as a context manager.

    Example:
        ```python
        from opsml import CardRegistry, RegistryType
        from opsml.mock import RegistryTestHelper

        with RegistryTestHelper():
            registry = CardRegistry(RegistryType.Data)
            assert len(registry.list_cards()) == 10
            assert len(registry.list_cards(version="3.*")) == 2
        ```
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
        try:
            _seed()
        except BaseException:
            self.cleanup()
            raise

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


def _seed() -> None:
    from opsml.cards import DataCard
    from opsml.interfaces import SqlData
    from opsml.registry import CardRegistry
    from opsml.types import RegistryType

    registry = CardRegistry(RegistryType.Data)
    for version in SEEDED_DATA_VERSIONS:
        interface = SqlData(sql_logic={"rows": "SELECT 1 AS one"})
        card = DataCard(interface=interface, space=SEEDED_SPACE, name=SEEDED_NAME, version=version)
        registry.register_card(card)


def __getattr__(name: str) -> Any:
    """``MockConfig``: scouter's transport configuration that publishes nowhere (for tests of
    an ``AppState`` queue); imported on first use, it needs the ``monitoring`` extra."""
    if name == "MockConfig":
        from opsml._compat import scouter_required

        with scouter_required():
            from scouter.mock import MockConfig

        return MockConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
