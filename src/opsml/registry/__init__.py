"""The registry layer: CardRegistry over a pluggable backend (local now, HTTP in client mode)."""

from __future__ import annotations

from opsml.registry._backend import RegistryBackend
from opsml.registry._gc import GcReport, collect_garbage
from opsml.registry._local import (
    LocalBackend,
    StoredSource,
    card_prefix,
    card_record,
    os_user,
    record_fields,
)
from opsml.registry._registration import Registered, Reservation, register
from opsml.registry._registry import (
    DEFAULT_BACKENDS,
    Backends,
    CardRegistries,
    CardRegistry,
    RegistryInfo,
    alias_target,
    backend_for,
    card_query,
    card_registry_type,
    close_backends,
    describe_database,
    tag_filters,
)
from opsml.registry._service import resolve_references

__all__ = [
    "Backends",
    "CardRegistries",
    "CardRegistry",
    "DEFAULT_BACKENDS",
    "GcReport",
    "LocalBackend",
    "Registered",
    "RegistryBackend",
    "RegistryInfo",
    "Reservation",
    "StoredSource",
    "alias_target",
    "backend_for",
    "card_prefix",
    "card_query",
    "card_record",
    "os_user",
    "record_fields",
    "card_registry_type",
    "close_backends",
    "describe_database",
    "collect_garbage",
    "register",
    "resolve_references",
    "tag_filters",
]
