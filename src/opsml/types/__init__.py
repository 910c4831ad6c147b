"""Enumerations and small value types shared by every layer: version bumps, registries, file
names, save paths and drift-profile plumbing.

The drift types are imported on first use (they need pydantic; the enums do not).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsml.types._enums import (
    CommonKwargs,
    NamedStrEnum,
    RegistryMode,
    RegistryType,
    SaveName,
    ServiceType,
    Suffix,
    VersionType,
)
from opsml.types._paths import SaverPath

if TYPE_CHECKING:
    from opsml.types._drift import DriftArgs, DriftProfileMap, DriftProfileUri

__all__ = [
    "CommonKwargs",
    "DriftArgs",
    "DriftProfileMap",
    "DriftProfileUri",
    "NamedStrEnum",
    "RegistryMode",
    "RegistryType",
    "SaveName",
    "SaverPath",
    "ServiceType",
    "Suffix",
    "VersionType",
]

_DRIFT = ("DriftArgs", "DriftProfileMap", "DriftProfileUri")


def __getattr__(name: str) -> Any:
    if name in _DRIFT:
        from opsml.types import _drift

        return getattr(_drift, name)
    raise AttributeError(f"module 'opsml.types' has no attribute {name!r}")
