"""Helpers for a card's registration life cycle, shared by every registry backend."""

from __future__ import annotations

from typing import Any

from opsml.cards._base import CardBase
from opsml.errors import CardStateError, InvalidNameError

__all__ = ["card_snapshot", "check_new_card", "keep_artifact_metadata", "restore_card"]


def check_new_card(card: CardBase) -> None:
    """Reject a card that cannot be registered as it is (already registered, unnamed)."""
    if card.uid is not None:
        raise CardStateError(
            f"{card} is already registered; use update_card to change its metadata"
        )
    if card.space is None or card.name is None:
        raise InvalidNameError(f"{type(card).__name__} needs a space and a name to register")


_SNAPSHOT_FIELDS = ("uid", "version", "created_at", "app_env", "manifest")


def card_snapshot(card: CardBase) -> tuple[Any, ...]:
    """The fields registration sets, to put back if it fails."""
    return tuple(getattr(card, field) for field in _SNAPSHOT_FIELDS)


def restore_card(card: CardBase, snapshot: tuple[Any, ...]) -> None:
    """Undo what a failed registration set on ``card``."""
    for field, value in zip(_SNAPSHOT_FIELDS, snapshot, strict=True):
        setattr(card, field, value)


def keep_artifact_metadata(card: CardBase, stored: CardBase) -> None:
    """Carry the stored interface metadata over: artifacts never change after registration."""
    metadata = getattr(card, "metadata", None)
    stored_metadata = getattr(stored, "metadata", None)
    if metadata is not None and hasattr(metadata, "interface_metadata"):
        metadata.interface_metadata = getattr(stored_metadata, "interface_metadata", None)
