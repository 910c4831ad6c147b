"""The single exception tree of opsml.

Every error opsml raises on purpose derives from :class:`OpsmlError`. Errors of the
libraries underneath (SQLAlchemy, the filesystem, pickle, HTTP) are translated at the
boundary with ``raise ... from exc`` so callers need to catch only this tree::

    OpsmlError
    ├── InvalidArgumentError        (also ValueError)  bad input to a public call
    │   ├── InvalidNameError                           space/name outside the allowed pattern
    │   ├── InvalidVersionError                        malformed version or version query
    │   ├── CardTypeError                              card of the wrong type for a registry
    │   ├── UnstorableValueError                       the database refused a value (range, text)
    │   ├── UnknownArgumentError    (also TypeError)   a keyword a card or interface does not take
    │   └── UnsupportedTypeError    (also RuntimeError) an interface given an object it cannot hold
    ├── CardNotFoundError           (also LookupError) no registered card matches
    │   └── AliasNotFoundError      (also KeyError)    a ServiceCard has no card of that alias
    ├── CardStateError                                 e.g. registering an already registered card
    │   ├── UploadOffsetError                          an upload chunk at the wrong offset
    │   └── UploadsMissingError                        finishing before every file arrived
    ├── VersionConflictError                           (space, name, version) is taken
    ├── IntegrityError                                 stored bytes differ from the manifest
    ├── StorageError                                   artifact storage failed
    ├── MetadataStoreError                             the SQL metadata store failed
    │   └── SchemaVersionError                         its schema is behind or newer than opsml's
    ├── SerializationError          (also RuntimeError) an interface could not save or load
    ├── LockfileError                                  opsml.lock missing, malformed or stale
    ├── MissingDependencyError      (also ImportError) an optional extra is not installed
    ├── AuthenticationError                            bad or missing credentials
    ├── AccountError                                   e.g. a taken username, the last admin
    ├── PermissionDeniedError                          authenticated, but not allowed
    ├── RateLimitError                                 too many attempts (e.g. failed logins)
    ├── MonitoringError                                the Scouter server refused a request
    ├── LLMError                    (also RuntimeError) an LLM API call failed
    └── ServerUnavailableError      (also ConnectionError) the opsml server cannot be reached

Domain errors carry no HTTP details: the server maps them to status codes in one table.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AccountError",
    "AliasNotFoundError",
    "AuthenticationError",
    "CardNotFoundError",
    "CardStateError",
    "CardTypeError",
    "IntegrityError",
    "InvalidArgumentError",
    "InvalidNameError",
    "InvalidVersionError",
    "LLMError",
    "LockfileError",
    "MetadataStoreError",
    "MissingDependencyError",
    "MonitoringError",
    "OpsmlError",
    "PermissionDeniedError",
    "RateLimitError",
    "SchemaVersionError",
    "SerializationError",
    "ServerUnavailableError",
    "StorageError",
    "UnknownArgumentError",
    "UnstorableValueError",
    "UnsupportedTypeError",
    "UploadOffsetError",
    "UploadsMissingError",
    "VersionConflictError",
]


class OpsmlError(Exception):
    """Root of every error raised by opsml."""

    _wire_fields: ClassVar[tuple[str, ...]] = ()
    """Attributes an opsml server sends beside the message, so the client's error has them."""


class InvalidArgumentError(OpsmlError, ValueError):
    """An argument to a public call is invalid."""


class InvalidNameError(InvalidArgumentError):
    """A space or name does not match ``^[a-z0-9][a-z0-9_-]{0,127}$`` after lowercasing."""


class InvalidVersionError(InvalidArgumentError):
    """A version or version query is malformed."""


class CardTypeError(InvalidArgumentError):
    """A card does not belong to the registry it was given to."""


class UnstorableValueError(InvalidArgumentError):
    """The metadata store refused a value of the request (a number out of range, text too
    long or not valid for the database): raised when no check before the database caught
    it. The message is one line with the database's reason, never the statement."""


class UnknownArgumentError(InvalidArgumentError, TypeError):
    """A card or interface was given a keyword argument it does not take (e.g. ``naem=``).
    Also a ``TypeError``, which is what Python raises for an unexpected keyword; the message
    names the nearest valid argument."""


class UnsupportedTypeError(InvalidArgumentError, RuntimeError):
    """A data or model interface was given an object of a type it cannot hold (e.g.
    ``NumpyData(data=10)``). Also a ``RuntimeError``, which is what OpsML 3 raises there."""


class CardNotFoundError(OpsmlError, LookupError):
    """No registered card matches the request."""


class AliasNotFoundError(CardNotFoundError, KeyError):
    """A ServiceCard has no card under the requested alias (the message lists the known ones)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class CardStateError(OpsmlError):
    """The card is in the wrong state for the operation (e.g. registered twice)."""


class UploadOffsetError(CardStateError):
    """An upload request does not fit where the server's copy of the file stands.

    Attributes:
        offset: The bytes of the file the server holds (send from there).
        busy: Another request is writing the same file right now (ask again shortly).
    """

    _wire_fields = ("offset", "busy")
    offset: int = 0
    busy: bool = False

    def __init__(self, message: str, offset: int = 0, busy: bool = False) -> None:
        super().__init__(message)
        self.offset = offset
        self.busy = busy


class UploadsMissingError(CardStateError):
    """A registration was asked to finish before all of its files arrived.

    Attributes:
        paths: The files (paths in the card's manifest) that did not arrive.
    """

    _wire_fields = ("paths",)
    paths: tuple[str, ...] = ()

    def __init__(self, paths: tuple[str, ...] | list[str]) -> None:
        shown = ", ".join(list(paths)[:10]) + (" …" if len(paths) > 10 else "")
        super().__init__(f"files not uploaded yet: {shown}")
        self.paths = tuple(paths)


class VersionConflictError(OpsmlError):
    """The requested (space, name, version) is already registered."""


class IntegrityError(OpsmlError):
    """Stored bytes do not match the card's manifest (size or SHA-256)."""


class StorageError(OpsmlError):
    """Reading or writing artifact storage failed."""


class MetadataStoreError(OpsmlError):
    """The SQL metadata store failed or is unreachable."""


class SchemaVersionError(MetadataStoreError):
    """The database's schema is not the one this opsml runs on: newer (written by a later
    opsml: upgrade opsml), or behind while automatic migration is off (run
    ``opsml db upgrade``)."""


class SerializationError(OpsmlError, RuntimeError):
    """An interface failed to save or load its object."""


class LockfileError(OpsmlError):
    """``opsml.lock`` is missing, malformed, or no longer matches ``opsmlspec.yaml``."""


class MissingDependencyError(OpsmlError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{package!r} is not installed; install it with: pip install 'opsml[{extra}]'"
        )

    def __reduce__(self) -> tuple[type[MissingDependencyError], tuple[str, str]]:
        return (type(self), (self.package, self.extra))


class AuthenticationError(OpsmlError):
    """Credentials are missing, wrong or expired."""


class AccountError(OpsmlError):
    """A user-management request conflicts with the accounts (a taken username, deleting
    or demoting the last admin)."""


class PermissionDeniedError(OpsmlError):
    """The caller is authenticated but lacks the permission for the operation."""


class RateLimitError(OpsmlError):
    """Too many attempts in a short time (e.g. failed logins); try again later.

    Attributes:
        retry_after: Seconds to wait before the next attempt is weighed (``None``: unknown).
    """

    retry_after: int | None = None

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MonitoringError(OpsmlError):
    """The Scouter monitoring server refused a request (e.g. registering a drift profile),
    could not be reached, or no Scouter server is configured for a request that needs one."""


class LLMError(OpsmlError, RuntimeError):
    """An LLM API call (an ``opsml.llm`` Agent or Workflow) failed or was refused."""


class ServerUnavailableError(OpsmlError, ConnectionError):
    """The opsml server could not be reached after retries."""
