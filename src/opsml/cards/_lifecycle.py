"""Helpers for a card's registration life cycle, shared by every registry backend."""

from __future__ import annotations

from opsml.cards._base import CardBase
from opsml.errors import CardStateError, InvalidNameError

__all__ = ["check_new_card", "keep_artifact_metadata"]


def check_new_card(card: CardBase) -> None:
    """Reject a card that cannot be registered as it is (already registered, unnamed)."""
    if card.uid is not None:
        raise CardStateError(
            f"{card} is already registered; use update_card to change its metadata"
        )
    if card.space is None or card.name is None:
        raise InvalidNameError(f"{type(card).__name__} needs a space and a name to register")


def keep_artifact_metadata(card: CardBase, stored: CardBase) -> None:
    """Carry the stored interface metadata over: artifacts never change after registration."""
    metadata = getattr(card, "metadata", None)
    stored_metadata = getattr(stored, "metadata", None)
    if metadata is not None and hasattr(metadata, "interface_metadata"):
        metadata.interface_metadata = getattr(stored_metadata, "interface_metadata", None)
    if hasattr(stored, "drift_profile_uri_map"):  # a PromptCard's saved drift profiles
        card.drift_profile_uri_map = stored.drift_profile_uri_map
