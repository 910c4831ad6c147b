"""Garbage collection: stale pending records, orphaned card folders, dead staging folders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from opsml.errors import CardNotFoundError, CardStateError
from opsml.registry._local import LocalBackend
from opsml.storage import owner_is_dead
from opsml.store import CARD_REGISTRIES

__all__ = ["GcReport", "collect_garbage"]


@dataclass
class GcReport:
    """What :func:`collect_garbage` removed."""

    pending_records: list[str] = field(default_factory=list)
    orphaned_folders: list[str] = field(default_factory=list)
    staging_folders: int = 0

    @property
    def total(self) -> int:
        """Number of things removed."""
        return len(self.pending_records) + len(self.orphaned_folders) + self.staging_folders


def collect_garbage(backend: LocalBackend, older_than_seconds: float = 3600.0) -> GcReport:
    """Remove what killed or failed registrations left behind.

    A pending record is stale when the process that reserved it is gone (same host) or it
    is older than ``older_than_seconds``; its files and uploads go with it, and its version
    is free again. A card folder in storage
    that no record (pending or ok) points to is an orphan and is removed.

    Args:
        backend: The local backend to clean.
        older_than_seconds: Age after which work of a process we cannot check is stale.

    Returns:
        What was removed.
    """
    report = GcReport()
    now = datetime.now(UTC)
    for registry in CARD_REGISTRIES:
        for row in backend.store.pending(registry):
            created = (
                row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
            )
            age = (now - created).total_seconds()
            if owner_is_dead(row.owner) or age >= older_than_seconds:
                try:  # its record, files and uploads
                    backend.abort(backend.pending(registry, row.uid))
                except (CardStateError, CardNotFoundError):
                    continue  # it finished (or was withdrawn) since it was listed
                report.pending_records.append(row.uid)
        # List folders before reading the records: a folder is only ever created after its
        # record was reserved, so a folder seen here without a record is truly orphaned.
        folders = list(backend.storage.iter_card_prefixes(registry.table_name))
        known = backend.store.storage_paths(registry)
        for prefix in folders:
            if prefix not in known:
                backend.storage.delete(prefix)
                report.orphaned_folders.append(prefix)
    report.staging_folders = backend.storage.clean_staging(older_than_seconds)
    return report
