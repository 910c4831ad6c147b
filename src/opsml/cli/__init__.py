"""The ``opsml`` command line, and its commands as functions (OpsML 3 compatible names).

Example:
    ```python
    from opsml.cli import install_service, lock_service

    lock_service("path/to/service")        # opsml lock --path path/to/service
    install_service("path/to/service")     # opsml install service --path path/to/service
    ```
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "DownloadCard",
    "ScouterArgs",
    "download_card",
    "generate_key",
    "install_service",
    "lock_project",
    "lock_service",
    "run_opsml_cli",
    "update_drift_profile_status",
    "validate_project",
]

_EXPORTS = {
    "DownloadCard": "opsml.cli._functions",
    "download_card": "opsml.cli._functions",
    "generate_key": "opsml.cli._functions",
    "install_service": "opsml.service",
    "lock_service": "opsml.service",
    "lock_project": "opsml.cli._functions",
    "run_opsml_cli": "opsml.cli._functions",
    "ScouterArgs": "opsml.cli._functions",
    "update_drift_profile_status": "opsml.cli._functions",
    "validate_project": "opsml.cli._functions",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'opsml.cli' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
