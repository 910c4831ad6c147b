"""What a storage backend answers about transfers: where a pending card's files go and what
of them arrived (:class:`UploadPlan`), and how to read a stored file (:class:`StoredFile`).

The server asks these questions of whatever storage it runs on, so no route needs to know
whether the bytes pass through the server (a local folder) or go straight to a bucket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PartPlan", "StoredFile", "UploadPlan"]


@dataclass(frozen=True)
class PartPlan:
    """One part of a multipart upload: its byte range, presigned URL and whether it is stored."""

    number: int
    offset: int
    size: int
    url: str
    complete: bool


@dataclass(frozen=True)
class UploadPlan:
    """How a client sends one file of a pending card, and what of it arrived.

    Attributes:
        direct: The bytes go straight to the storage (presigned ``url`` or ``parts``);
            otherwise they are sent to the opsml server, which keeps them until the commit.
        url: Presigned URL for one ``PUT`` of the whole file (empty when sent in parts or
            through the server).
        headers: Headers the request must carry (they are part of what was signed).
        parts: The parts, for a large file sent straight to the storage.
        received: Bytes already stored.
        complete: The whole file is stored.
    """

    direct: bool = True
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    parts: tuple[PartPlan, ...] = ()
    received: int = 0
    complete: bool = False


@dataclass(frozen=True)
class StoredFile:
    """One stored file of a card, as the server serves it.

    Attributes:
        size: Its size in bytes (of the plaintext, when stored encrypted).
        read: ``read(start, end)`` yields the bytes ``[start, end)``, each piece checked
            where the storage can check it (encrypted chunks are authenticated).
        path: A local file holding exactly these bytes, which may be sent as it is
            (``None`` when the bytes must go through ``read``).
    """

    size: int
    read: Callable[[int, int], Iterator[bytes]]
    path: Path | None = None
