"""The one table mapping domain errors to HTTP status codes."""

from __future__ import annotations

from opsml import errors

__all__ = ["STATUS_BY_ERROR", "status_for"]

STATUS_BY_ERROR: tuple[tuple[type[errors.OpsmlError], int], ...] = (
    (errors.CardNotFoundError, 404),
    (errors.VersionConflictError, 409),
    (errors.CardStateError, 409),
    (errors.AccountError, 409),
    (errors.InvalidArgumentError, 422),
    (errors.AuthenticationError, 401),
    (errors.PermissionDeniedError, 403),
    (errors.RateLimitError, 429),
    (errors.MissingDependencyError, 501),
    (errors.MetadataStoreError, 503),
    (errors.StorageError, 503),
    (errors.ServerUnavailableError, 503),
    (errors.IntegrityError, 422),
    (errors.SerializationError, 500),
)


def status_for(exc: errors.OpsmlError) -> int:
    """HTTP status of a domain error (most specific class first; 500 when unlisted)."""
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 500
