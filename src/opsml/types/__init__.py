"""Enumerations shared by every layer: version bumps, registries, file names."""

from opsml.types._enums import (
    CommonKwargs,
    RegistryMode,
    RegistryType,
    SaveName,
    ServiceType,
    Suffix,
    VersionType,
)

__all__ = [
    "CommonKwargs",
    "RegistryMode",
    "RegistryType",
    "SaveName",
    "ServiceType",
    "Suffix",
    "VersionType",
]
