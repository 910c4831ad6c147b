"""Drift monitoring with a Scouter server: what registering drift profiles sends, and the
client that sends it (``docs/monitoring.md``).

Nothing here needs scouter-ml: profiles travel as the JSON scouter wrote. The registry calls
:class:`ScouterServer` when a card with drift profiles is registered and a server is
configured (``SCOUTER_SERVER_URI``, :class:`~opsml.settings.ScouterConfig`). The client (and
httpx with it) is imported on first use, so that importing the cards stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsml.monitoring._contracts import (
    DriftProfileRegistration,
    ScouterProfileRequest,
    ScouterProfileStatus,
    ScouterVersionRequest,
    drift_profile_registrations,
)

if TYPE_CHECKING:
    from opsml.monitoring._client import ScouterServer

__all__ = [
    "DriftProfileRegistration",
    "ScouterProfileRequest",
    "ScouterProfileStatus",
    "ScouterServer",
    "ScouterVersionRequest",
    "drift_profile_registrations",
]


def __getattr__(name: str) -> Any:
    if name == "ScouterServer":
        from opsml.monitoring._client import ScouterServer

        return ScouterServer
    raise AttributeError(f"module 'opsml.monitoring' has no attribute {name!r}")
