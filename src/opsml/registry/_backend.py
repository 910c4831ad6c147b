"""The registry backend protocol: one set of semantics, a local and an HTTP transport."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from opsml.cards import CardAlias, CardBase, CardRecord, HardwareMetrics, Metric, Parameter
from opsml.monitoring import DriftProfileRegistration, ScouterProfileStatus
from opsml.registry._registration import Registered, Reservation
from opsml.storage import Manifest
from opsml.store import CardQuery
from opsml.types import RegistryMode, RegistryType, VersionType
from opsml.version import Version

__all__ = ["RegistryBackend"]


class RegistryBackend(Protocol):
    """What :class:`~opsml.registry.CardRegistry` needs from a backend.

    The local backend talks to SQL and storage in-process; the HTTP backend (client mode)
    talks to an opsml server whose routes call the local backend.
    """

    mode: RegistryMode

    # -- registration: the protocol of opsml.registry._registration ----------------------

    def staging(self) -> AbstractContextManager[Path]:
        """A private local folder to save a card's files into (removed afterwards)."""
        ...

    def begin(
        self,
        card: CardBase,
        version_type: VersionType,
        pre_tag: str | None,
        build_tag: str | None,
        manifest: Manifest,
    ) -> Reservation:
        """Validate ``card``, allocate its version and reserve it (pending); the card
        object is not changed."""
        ...

    def transfer(self, reservation: Reservation, folder: Path) -> None:
        """Send the files in ``folder`` to where ``reservation`` says."""
        ...

    def finish(self, reservation: Reservation, folder: Path) -> Registered:
        """Make the reserved card visible with its files, all at once."""
        ...

    def abort(self, reservation: Reservation) -> None:
        """Withdraw a reservation: its record and every file sent for it go."""
        ...

    def register_drift_profiles(
        self, reservation: Reservation, registrations: Sequence[DriftProfileRegistration]
    ) -> None:
        """Register the reserved card's drift profiles with the Scouter server the registry
        is configured with (nothing when it has none)."""
        ...

    def update_drift_profile_status(self, status: ScouterProfileStatus) -> None:
        """Activate or deactivate drift profiles on the configured Scouter server."""
        ...

    def attach(self, card: CardBase) -> None:
        """Let a registered card (uid, version and manifest set) load its artifacts."""
        ...

    # -- everything else ------------------------------------------------------------------

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

    def set_alias(
        self, registry: RegistryType, space: str, name: str, alias: str, version: Version
    ) -> CardAlias:
        """Point ``alias`` of (space, name) at a registered ``version`` (audited)."""
        ...

    def delete_alias(self, registry: RegistryType, space: str, name: str, alias: str) -> None:
        """Remove an alias (audited)."""
        ...

    def list_aliases(
        self, registry: RegistryType, space: str | None = None, name: str | None = None
    ) -> list[CardAlias]:
        """Aliases and the versions they point at (the readable ones, on a server)."""
        ...

    def log_metrics(self, experiment_uid: str, metrics: Sequence[Metric]) -> None:
        """Store a batch of metric points of a registered experiment."""
        ...

    def log_parameters(self, experiment_uid: str, parameters: Sequence[Parameter]) -> None:
        """Store (or replace) parameters of a registered experiment."""
        ...

    def log_hardware(self, experiment_uid: str, samples: Sequence[HardwareMetrics]) -> None:
        """Store hardware samples of a registered experiment."""
        ...

    def get_metrics(self, experiment_uid: str, names: Sequence[str] | None = None) -> list[Metric]:
        """Metric points in logging order."""
        ...

    def get_parameters(
        self, experiment_uid: str, names: Sequence[str] | None = None
    ) -> list[Parameter]:
        """Parameters in name order."""
        ...

    def get_hardware_metrics(self, experiment_uid: str) -> list[HardwareMetrics]:
        """Hardware samples in time order."""
        ...

    def add_artifacts(self, registry: RegistryType, uid: str, folder: Path) -> Manifest:
        """Add the files of ``folder`` to a registered experiment; returns its new manifest."""
        ...
