"""The registry backend protocol: one set of semantics, a local and an HTTP transport."""

from __future__ import annotations

from typing import Any, Protocol

from opsml.cards import CardBase, CardRecord
from opsml.store import CardQuery
from opsml.types import RegistryMode, RegistryType, VersionType

__all__ = ["RegistryBackend"]


class RegistryBackend(Protocol):
    """What :class:`~opsml.registry.CardRegistry` needs from a backend.

    The local backend talks to SQL and storage in-process; the HTTP backend (client mode)
    talks to an opsml server whose routes call the local backend.
    """

    mode: RegistryMode

    def register_card(
        self,
        card: CardBase,
        version_type: VersionType,
        pre_tag: str | None,
        build_tag: str | None,
        save_kwargs: Any,
    ) -> None:
        """Register ``card`` all-or-nothing, setting its uid, version and created_at."""
        ...

    def list_cards(self, registry: RegistryType, query: CardQuery) -> list[CardRecord]:
        """Records matching ``query``, in ``list_cards`` order."""
        ...

    def load_card(self, registry: RegistryType, query: CardQuery) -> CardBase:
        """The best match of ``query`` with metadata loaded and an artifact source attached."""
        ...

    def update_card(self, card: CardBase) -> None:
        """Update a registered card's metadata and tags (artifacts are immutable)."""
        ...

    def delete_card(self, card: CardBase) -> None:
        """Remove a card's record and artifacts."""
        ...
