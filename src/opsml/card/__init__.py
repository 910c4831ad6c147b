"""Cards and registries (public API; OpsML 3 compatible names)."""

from __future__ import annotations

from opsml.cards import (
    Card,
    CardList,
    CardRecord,
    ComputeEnvironment,
    DataCard,
    DataCardMetadata,
    ExperimentCard,
    ModelCard,
    ModelCardMetadata,
    PromptCard,
    ServiceCard,
    UidMetadata,
)
from opsml.registry import CardRegistries, CardRegistry
from opsml.service import download_service
from opsml.types import RegistryMode, RegistryType

CardDeck = ServiceCard
"""The design's earlier name of :class:`ServiceCard`."""

__all__ = [
    "Card",
    "CardDeck",
    "CardList",
    "CardRecord",
    "CardRegistries",
    "CardRegistry",
    "ComputeEnvironment",
    "DataCard",
    "DataCardMetadata",
    "ExperimentCard",
    "ModelCard",
    "ModelCardMetadata",
    "PromptCard",
    "RegistryMode",
    "RegistryType",
    "ServiceCard",
    "UidMetadata",
    "download_service",
]
