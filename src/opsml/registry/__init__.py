"""The registry layer: CardRegistry over a pluggable backend (local now, HTTP in client mode)."""

from __future__ import annotations

from opsml.registry._backend import RegistryBackend
from opsml.registry._gc import GcReport, collect_garbage
from opsml.registry._local import LocalBackend, StoredSource, card_prefix
from opsml.registry._registration import Registered, Reservation, register
from opsml.registry._registry import (
    DEFAULT_BACKENDS,
    Backends,
    CardRegistries,
    CardRegistry,
    backend_for,
    close_backends,
)

__all__ = [
    "DEFAULT_BACKENDS",
    "Backends",
    "CardRegistries",
    "CardRegistry",
    "GcReport",
    "LocalBackend",
    "Registered",
    "RegistryBackend",
    "Reservation",
    "StoredSource",
    "backend_for",
    "card_prefix",
    "close_backends",
    "collect_garbage",
    "register",
]
