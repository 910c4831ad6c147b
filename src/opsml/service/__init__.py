"""Services: ``opsmlspec.yaml`` (or ``[[tool.opsml.service]]`` tables in ``pyproject.toml``)
declares the cards a service needs, ``opsml lock`` pins them in ``opsml.lock``,
``opsml install service`` fetches exactly them (SPEC §6)."""

from __future__ import annotations

from opsml.service._install import (
    InstallReport,
    download_card,
    download_service,
    install_service,
    lock_service,
)
from opsml.service._lock import LOCK_FILE, LockArtifact, LockedFile, LockFile
from opsml.service._spec import (
    SPEC_FILES,
    CardSpec,
    DriftSpec,
    OpsmlServiceSpec,
    ServiceConfig,
    SpecMetadata,
    read_project,
)
from opsml.types import ServiceType

__all__ = [
    "LOCK_FILE",
    "SPEC_FILES",
    "CardSpec",
    "DriftSpec",
    "InstallReport",
    "LockArtifact",
    "LockFile",
    "LockedFile",
    "OpsmlServiceSpec",
    "ServiceConfig",
    "ServiceType",
    "SpecMetadata",
    "download_card",
    "download_service",
    "install_service",
    "lock_service",
    "read_project",
]
