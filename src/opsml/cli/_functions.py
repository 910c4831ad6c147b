"""Python entry points of CLI commands whose OpsML 3 signatures differ from ours."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from opsml.service import LockFile, lock_service
from opsml.service import download_card as _download_card
from opsml.types import RegistryType

__all__ = ["DownloadCard", "download_card", "lock_project"]


class DownloadCard(BaseModel):
    """Which card ``download_card`` fetches and where it writes it."""

    space: str | None = None
    name: str | None = None
    version: str | None = None
    uid: str | None = None
    write_dir: str = "artifacts"


def download_card(args: DownloadCard, registry_type: RegistryType | str) -> Path:
    """Download a card's ``card.json`` and artifacts (``opsml get <registry>``).

    Returns:
        The folder written.
    """
    return _download_card(
        registry_type,
        write_dir=args.write_dir,
        space=args.space,
        name=args.name,
        version=args.version,
        uid=args.uid,
    )


def lock_project(path: Path | str = ".") -> LockFile:
    """OpsML 3's name of :func:`opsml.service.lock_service`."""
    return lock_service(path)
