"""ExperimentCard: a training run. Tracking (metrics, parameters, artifacts) comes with
``opsml.experiment``; here the card is the record that links the cards a run produced."""

from __future__ import annotations

import os
import platform
import socket
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from opsml.cards._base import CardBase
from opsml.types import RegistryType

__all__ = ["ComputeEnvironment", "ExperimentCard", "UidMetadata"]


class UidMetadata(BaseModel):
    """uids of the cards an experiment produced or contains."""

    datacard_uids: list[str] = Field(default_factory=list)
    modelcard_uids: list[str] = Field(default_factory=list)
    promptcard_uids: list[str] = Field(default_factory=list)
    service_card_uids: list[str] = Field(default_factory=list)
    experimentcard_uids: list[str] = Field(default_factory=list)


def _total_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


class ComputeEnvironment(BaseModel):
    """Where an experiment ran: cpu count, memory, OS, hostname, Python version."""

    cpu_count: int = Field(default_factory=lambda: os.cpu_count() or 0)
    total_memory: int = Field(default_factory=_total_memory)
    system: str = Field(default_factory=platform.system)
    os_version: str = Field(default_factory=platform.release)
    hostname: str = Field(default_factory=socket.gethostname)
    python_version: str = Field(default_factory=platform.python_version)


class ExperimentCard(CardBase):
    """A versioned record of one training run and the cards it produced."""

    registry_type: ClassVar[RegistryType] = RegistryType.Experiment

    uids: UidMetadata = Field(default_factory=UidMetadata)
    compute_environment: ComputeEnvironment = Field(default_factory=ComputeEnvironment)

    def __init__(
        self,
        space: str | None = None,
        name: str | None = None,
        version: str | None = None,
        uid: str | None = None,
        tags: list[str] | None = None,
        **data: Any,
    ) -> None:
        """Create an ExperimentCard.

        Args:
            space: Space of the card.
            name: Name of the card.
            version: A version to request (partial or full).
            uid: Set by the registry.
            tags: Free-form tags.
        """
        super().__init__(space=space, name=name, version=version, uid=uid, tags=tags or [], **data)

    def add_child_experiment(self, uid: str) -> None:
        """Record ``uid`` as a child experiment of this one."""
        if uid not in self.uids.experimentcard_uids:
            self.uids.experimentcard_uids.append(uid)

    def _linked_uids(self) -> dict[RegistryType, list[str]]:
        links = {
            RegistryType.Data: self.uids.datacard_uids,
            RegistryType.Model: self.uids.modelcard_uids,
            RegistryType.Prompt: self.uids.promptcard_uids,
            RegistryType.Service: self.uids.service_card_uids,
            RegistryType.Experiment: self.uids.experimentcard_uids,
        }
        return {registry: list(uids) for registry, uids in links.items() if uids}
