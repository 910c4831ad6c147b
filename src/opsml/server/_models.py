"""Request and response bodies of the HTTP API (they document the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, Field

from opsml._validation import INT64_MAX, UID_PATTERN, empty_list
from opsml.storage import Manifest
from opsml.types import VersionType

__all__ = [
    "ByteCount",
    "DeletedResponse",
    "ErrorResponse",
    "HealthResponse",
    "LoginRequest",
    "PartTarget",
    "RegistryName",
    "ReserveRequest",
    "ReserveResponse",
    "TokenResponse",
    "TransferTarget",
    "UID_PATTERN",
    "UpdateRequest",
    "UploadStatus",
]


ByteCount = Annotated[int, Query(ge=0, le=INT64_MAX, description="bytes (signed 64-bit)")]
"""A size or offset in a query: 0 to 2**63 - 1 (no file is larger)."""


class RegistryName(StrEnum):
    """The card registries served."""

    data = "data"
    model = "model"
    experiment = "experiment"
    prompt = "prompt"
    service = "service"


class ErrorResponse(BaseModel):
    """Every error: the opsml error class and a one-line detail."""

    error: str
    detail: str


class HealthResponse(BaseModel):
    """The server answers."""

    status: str
    version: str


class LoginRequest(BaseModel):
    """Credentials for ``POST /opsml/api/auth/token``."""

    username: str = Field(max_length=255)
    password: str = Field(max_length=1024)


class RefreshRequest(BaseModel):
    """A refresh token for ``POST /opsml/api/auth/refresh``."""

    refresh_token: str = Field(max_length=4096)


class TokenResponse(BaseModel):
    """A short-lived bearer token, and a refresh token valid once for the next pair."""

    access_token: str
    refresh_token: str | None = None
    token_type: str = "bearer"
    expires_in: int


class ReserveRequest(BaseModel):
    """Step one of a registration through the server."""

    uid: str = Field(pattern=UID_PATTERN, description="client-chosen UUID: retries are idempotent")
    card: dict[str, Any] = Field(description="the card's JSON, before registration")
    version_type: VersionType = VersionType.Minor
    pre_tag: str | None = Field(default=None, max_length=100)
    build_tag: str | None = Field(default=None, max_length=100)
    manifest: Manifest


class PartTarget(BaseModel):
    """One part of a large file sent straight to object storage (its own presigned URL)."""

    number: int
    offset: int = Field(description="first byte of the part in the file")
    size: int
    url: str = Field(description="presigned PUT URL (empty when the part is stored)")
    complete: bool = False


class TransferTarget(BaseModel):
    """Where to send (or fetch) one file: the server itself, or a presigned URL."""

    path: str
    url: str = Field(description="absolute, or relative to the server's base URL")
    method: str
    size: int
    sha256: str
    offset: int = Field(default=0, description="bytes the server already holds (uploads)")
    complete: bool = Field(default=False, description="the server holds the whole file")
    headers: dict[str, str] = Field(
        default_factory=dict, description="headers a presigned request must carry"
    )
    parts: list[PartTarget] = Field(
        default_factory=empty_list,
        description="for large files sent to object storage: one presigned URL per part "
        "(``url`` is then empty); the server assembles them at commit",
    )


class ReserveResponse(BaseModel):
    """The reserved version and where to upload each file."""

    uid: str
    version: str
    created_at: datetime
    app_env: str
    uploads: list[TransferTarget]


class UploadStatus(BaseModel):
    """How much of one file has arrived."""

    path: str
    received: int
    complete: bool


class UpdateRequest(BaseModel):
    """A registered card's new metadata."""

    card: dict[str, Any]


class DeletedResponse(BaseModel):
    """What was removed."""

    uid: str
