"""Users, permissions, tokens and the audit log in SQL (the server's security state).

Everything a replica needs to authorise a request lives here, so any number of replicas
behind one load balancer agree: users with their password hashes, per-space permissions,
API tokens (stored as SHA-256 digests only), refresh tokens (one-time use) and the audit
log. Passwords and tokens are hashed by the caller; this module stores and finds rows.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    Select,
    String,
    Table,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlalchemy.exc import SQLAlchemyError

from opsml.errors import AccountError, InvalidArgumentError, MetadataStoreError
from opsml.store._errors import store_error
from opsml.store._loop_reads import LoopReads
from opsml.store._schema import METADATA, NAME_LEN, ascii_string, exact_text
from opsml.store._store import SqlStore

__all__ = [
    "ANY_SPACE",
    "API_TOKENS",
    "AUDIT_LOG",
    "AUTH_EPOCH",
    "PERMISSIONS",
    "REFRESH_TOKENS",
    "USERS",
    "ApiTokenRow",
    "AuditEntry",
    "AuthStore",
    "LoginFailures",
    "PermissionRow",
    "UserRow",
]

USER_LEN = 128
ANY_SPACE = "*"

USERS = Table(
    "opsml_users",
    METADATA,
    Column("username", ascii_string(USER_LEN), primary_key=True),
    Column("password_hash", String(255), nullable=False),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("token_version", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Single sign-on users: who they are at the OpenID Connect provider (NULL: local user).
    Column("oidc_issuer", ascii_string(255), nullable=True),
    Column("oidc_subject", ascii_string(255), nullable=True),
    Index("ix_opsml_users_oidc", "oidc_issuer", "oidc_subject", unique=True),
)

PERMISSIONS = Table(
    "opsml_permissions",
    METADATA,
    Column("username", ascii_string(USER_LEN), primary_key=True),
    Column("space", ascii_string(NAME_LEN), primary_key=True),
    Column("can_read", Boolean, nullable=False, default=False),
    Column("can_write", Boolean, nullable=False, default=False),
    Column("can_delete", Boolean, nullable=False, default=False),
)

API_TOKENS = Table(
    "opsml_api_tokens",
    METADATA,
    Column("token_id", ascii_string(32), primary_key=True),
    Column("username", ascii_string(USER_LEN), nullable=False),
    Column("name", String(128), nullable=False),
    Column("token_hash", ascii_string(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_opsml_api_tokens_user", "username"),
)

REFRESH_TOKENS = Table(
    "opsml_refresh_tokens",
    METADATA,
    Column("jti", ascii_string(64), primary_key=True),
    Column("username", ascii_string(USER_LEN), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Index("ix_opsml_refresh_tokens_user", "username"),
)

AUTH_EPOCH = Table(
    "opsml_auth_epoch",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("epoch", BigInteger, nullable=False),
)
"""One row (``id`` 1) whose ``epoch`` every change of a user, their permissions or their
tokens increments, in the same transaction: a token verified at epoch N holds as long as
the epoch is still N."""

AUDIT_LOG = Table(
    "opsml_audit_log",
    METADATA,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("username", exact_text(USER_LEN), nullable=False),
    Column("operation", String(64), nullable=False),
    Column("resource", String(512), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("client_address", String(64), nullable=False),
    Column("detail", String(1024), nullable=False, default=""),
    Index("ix_opsml_audit_created", "created_at"),
    Index("ix_opsml_audit_user", "username", "created_at"),
    Index("ix_opsml_audit_client", "client_address", "operation", "created_at"),
)

T = TypeVar("T")


@dataclass(frozen=True)
class UserRow:
    """A user as stored (the password hash never leaves the server).

    ``oidc_issuer`` and ``oidc_subject`` name a single sign-on user at their OpenID Connect
    provider (``None``: a local user with a password).
    """

    username: str
    password_hash: str
    is_admin: bool
    token_version: int
    created_at: datetime
    oidc_issuer: str | None = None
    oidc_subject: str | None = None


@dataclass(frozen=True)
class PermissionRow:
    """What a user may do in one space (``*``: every space)."""

    space: str
    read: bool
    write: bool
    delete: bool


@dataclass(frozen=True)
class ApiTokenRow:
    """An API token as stored: its id, owner, name, SHA-256 digest and validity."""

    token_id: str
    username: str
    name: str
    token_hash: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class LoginFailures:
    """Failed logins from one client address, as the login throttle weighs them.

    Attributes:
        pair: For one user name since its last successful login from this address.
        pair_last: When the last of those was.
        address: For any user name.
        address_last: When the last of those was.
        known_pair: This address logged in as this user name in the period.
    """

    pair: int
    pair_last: datetime | None
    address: int
    address_last: datetime | None
    known_pair: bool


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log."""

    created_at: datetime
    username: str
    operation: str
    resource: str
    outcome: str
    status_code: int
    client_address: str
    detail: str = ""
    id: int | None = None


def _select_epoch() -> Select[Any]:
    return select(AUTH_EPOCH.c.epoch).where(AUTH_EPOCH.c.id == 1)


_EPOCH_READ: tuple[Hashable, Callable[[], Select[Any]], dict[str, Any], str] = (
    ("auth_epoch",),
    _select_epoch,
    {},
    "reading the security epoch",
)


def _bump_epoch(conn: Connection) -> None:
    """Tell every server that remembered verified tokens to check them again."""
    conn.execute(
        update(AUTH_EPOCH).where(AUTH_EPOCH.c.id == 1).values(epoch=AUTH_EPOCH.c.epoch + 1)
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite and MySQL hand back naive datetimes: they are UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _user(row: Any) -> UserRow:
    return UserRow(
        row.username,
        row.password_hash,
        bool(row.is_admin),
        int(row.token_version),
        _aware(row.created_at) or _now(),
        row.oidc_issuer,
        row.oidc_subject,
    )


class AuthStore:
    """SQL operations on the security tables (same engine as the card store)."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    @property
    def engine(self) -> Engine:
        """The database engine."""
        return self._store.engine

    def _read(self, fn: Callable[[Connection], T], what: str) -> T:
        try:
            with self._store._read() as conn:
                return fn(conn)
        except SQLAlchemyError as exc:
            raise store_error(what, exc) from exc

    def _write(self, fn: Callable[[Connection], Any], what: str) -> None:
        self._store._retrying(fn, what)

    # -- users ------------------------------------------------------------------------------

    def count_users(self) -> int:
        """How many users exist."""
        return int(
            self._read(
                lambda c: c.execute(select(func.count()).select_from(USERS)).scalar_one(),
                "counting users",
            )
        )

    def get_user(self, username: str) -> UserRow | None:
        """The user, or ``None``."""
        row = self._read(
            lambda c: c.execute(select(USERS).where(USERS.c.username == username)).first(),
            f"reading user {username!r}",
        )
        return None if row is None else _user(row)

    def list_users(self) -> list[UserRow]:
        """Every user, by name."""
        rows = self._read(
            lambda c: list(c.execute(select(USERS).order_by(USERS.c.username))), "listing users"
        )
        return [_user(r) for r in rows]

    def get_oidc_user(self, issuer: str, subject: str) -> UserRow | None:
        """The single sign-on user ``subject`` of the provider ``issuer``, or ``None``."""
        row = self._read(
            lambda c: c.execute(
                select(USERS).where(USERS.c.oidc_issuer == issuer, USERS.c.oidc_subject == subject)
            ).first(),
            "reading a single sign-on user",
        )
        return None if row is None else _user(row)

    def create_user(
        self,
        username: str,
        password_hash: str,
        is_admin: bool,
        oidc: tuple[str, str] | None = None,
    ) -> None:
        """Add a user (``oidc``: the provider's issuer and subject of a single sign-on user).

        Raises:
            AccountError: The username (or the provider's subject) is taken.
        """
        now = _now()
        values = {
            "username": username,
            "password_hash": password_hash,
            "is_admin": is_admin,
            # Random, so a token of a deleted user never fits a new user of the same name.
            "token_version": secrets.randbelow(2**30),
            "created_at": now,
            "updated_at": now,
            "oidc_issuer": oidc[0] if oidc else None,
            "oidc_subject": oidc[1] if oidc else None,
        }
        try:
            self._write(lambda c: c.execute(insert(USERS).values(**values)), "creating a user")
        except MetadataStoreError as exc:
            if isinstance(exc.__cause__, SqlIntegrityError):
                raise AccountError(f"user {username!r} already exists") from None
            raise

    def update_user(
        self,
        username: str,
        *,
        password_hash: str | None = None,
        is_admin: bool | None = None,
    ) -> None:
        """Change a user's password hash (keeping their tokens: see :meth:`reset_password`)
        or admin flag."""
        values: dict[str, Any] = {"updated_at": _now()}
        if password_hash is not None:
            values["password_hash"] = password_hash
        if is_admin is not None:
            values["is_admin"] = is_admin

        def run(conn: Connection) -> None:
            result = conn.execute(
                update(USERS).where(USERS.c.username == username).values(**values)
            )
            if result.rowcount == 0:
                raise InvalidArgumentError(f"no user {username!r}")
            _bump_epoch(conn)

        self._write(run, f"updating user {username!r}")

    def reset_password(self, username: str, password_hash: str) -> int:
        """Set a new password hash and revoke every token of the user in one transaction:
        access and refresh tokens (the token version is bumped) and API tokens.

        Returns:
            How many API tokens were revoked.

        Raises:
            InvalidArgumentError: No such user.
        """
        revoked: list[int] = []

        def run(conn: Connection) -> None:
            now = _now()
            result = conn.execute(
                update(USERS)
                .where(USERS.c.username == username)
                .values(
                    password_hash=password_hash,
                    token_version=USERS.c.token_version + 1,
                    updated_at=now,
                )
            )
            if result.rowcount == 0:
                raise InvalidArgumentError(f"no user {username!r}")
            tokens = conn.execute(
                update(API_TOKENS)
                .where(API_TOKENS.c.username == username, API_TOKENS.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            revoked[:] = [tokens.rowcount]
            _bump_epoch(conn)

        self._write(run, f"resetting the password of {username!r}")
        return revoked[0]

    def delete_user(self, username: str) -> int:
        """Delete a user with their permissions and tokens; the last admin cannot go.

        Returns:
            How many API tokens (revoked or not) were deleted with the user.

        Raises:
            InvalidArgumentError: No such user.
            AccountError: The user is the last admin.
        """
        deleted: list[int] = [0]

        def run(conn: Connection) -> None:
            row = conn.execute(select(USERS).where(USERS.c.username == username)).first()
            if row is None:
                raise InvalidArgumentError(f"no user {username!r}")
            if row.is_admin:
                admins = conn.execute(
                    select(func.count()).select_from(USERS).where(USERS.c.is_admin.is_(True))
                ).scalar_one()
                if admins <= 1:
                    raise AccountError(f"{username!r} is the last admin and cannot be deleted")
            for table in (PERMISSIONS, API_TOKENS, REFRESH_TOKENS):
                result = conn.execute(delete(table).where(table.c.username == username))
                if table is API_TOKENS:
                    deleted[:] = [result.rowcount]
            conn.execute(delete(USERS).where(USERS.c.username == username))
            _bump_epoch(conn)

        self._write(run, f"deleting user {username!r}")
        return deleted[0]

    def admin_count(self) -> int:
        """How many admins exist."""
        return int(
            self._read(
                lambda c: c.execute(
                    select(func.count()).select_from(USERS).where(USERS.c.is_admin.is_(True))
                ).scalar_one(),
                "counting admins",
            )
        )

    def epoch(self) -> int | None:
        """The security epoch (see :data:`AUTH_EPOCH`); ``None`` when its row is missing,
        so nothing may be remembered."""
        rows = self._store._read_prepared(*_EPOCH_READ)
        return int(rows[0].epoch) if rows else None

    async def epoch_on_loop(self, reads: LoopReads) -> int | None:
        """:meth:`epoch`, awaited on the event loop with ``reads``' connections."""
        rows = await self._store._read_prepared_on_loop(reads, *_EPOCH_READ)
        return int(rows[0].epoch) if rows else None

    # -- permissions --------------------------------------------------------------------------

    def permissions(self, username: str) -> list[PermissionRow]:
        """A user's permissions, by space."""
        rows = self._read(
            lambda c: list(
                c.execute(
                    select(PERMISSIONS)
                    .where(PERMISSIONS.c.username == username)
                    .order_by(PERMISSIONS.c.space)
                )
            ),
            f"reading permissions of {username!r}",
        )
        return [
            PermissionRow(r.space, bool(r.can_read), bool(r.can_write), bool(r.can_delete))
            for r in rows
        ]

    def set_permissions(self, username: str, grants: Sequence[PermissionRow]) -> None:
        """Replace a user's permissions with ``grants``."""

        def run(conn: Connection) -> None:
            if (
                conn.execute(select(USERS.c.username).where(USERS.c.username == username)).first()
                is None
            ):
                raise InvalidArgumentError(f"no user {username!r}")
            conn.execute(delete(PERMISSIONS).where(PERMISSIONS.c.username == username))
            for grant in grants:
                conn.execute(
                    insert(PERMISSIONS).values(
                        username=username,
                        space=grant.space,
                        can_read=grant.read,
                        can_write=grant.write,
                        can_delete=grant.delete,
                    )
                )
            _bump_epoch(conn)

        self._write(run, f"setting permissions of {username!r}")

    # -- API tokens ---------------------------------------------------------------------------

    def add_api_token(self, row: ApiTokenRow) -> None:
        """Store a new API token (its digest only)."""
        values = {
            "token_id": row.token_id,
            "username": row.username,
            "name": row.name,
            "token_hash": row.token_hash,
            "created_at": row.created_at,
            "expires_at": row.expires_at,
            "revoked_at": None,
        }
        self._write(lambda c: c.execute(insert(API_TOKENS).values(**values)), "creating a token")

    def get_api_token(self, token_id: str) -> ApiTokenRow | None:
        """The token with this id, or ``None``."""
        row = self._read(
            lambda c: c.execute(
                select(API_TOKENS).where(API_TOKENS.c.token_id == token_id)
            ).first(),
            "reading a token",
        )
        if row is None:
            return None
        return ApiTokenRow(
            row.token_id,
            row.username,
            row.name,
            row.token_hash,
            _aware(row.created_at) or _now(),
            _aware(row.expires_at),
            _aware(row.revoked_at),
        )

    def list_api_tokens(self, username: str | None = None) -> list[ApiTokenRow]:
        """API tokens (of one user, or all), oldest first."""
        stmt = select(API_TOKENS).order_by(API_TOKENS.c.created_at)
        if username is not None:
            stmt = stmt.where(API_TOKENS.c.username == username)
        rows = self._read(lambda c: list(c.execute(stmt)), "listing tokens")
        return [
            ApiTokenRow(
                r.token_id,
                r.username,
                r.name,
                r.token_hash,
                _aware(r.created_at) or _now(),
                _aware(r.expires_at),
                _aware(r.revoked_at),
            )
            for r in rows
        ]

    def revoke_api_token(self, token_id: str) -> bool:
        """Revoke a token at once; ``False`` when there is no such (unrevoked) token."""
        revoked: list[int] = []

        def run(conn: Connection) -> None:
            result = conn.execute(
                update(API_TOKENS)
                .where(API_TOKENS.c.token_id == token_id, API_TOKENS.c.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
            revoked.append(result.rowcount)
            _bump_epoch(conn)

        self._write(run, "revoking a token")
        return bool(revoked and revoked[0])

    # -- refresh tokens -----------------------------------------------------------------------

    def add_refresh_token(self, jti: str, username: str, expires_at: datetime) -> None:
        """Remember a refresh token so it can be used once."""
        values = {"jti": jti, "username": username, "expires_at": expires_at, "used_at": None}
        self._write(lambda c: c.execute(insert(REFRESH_TOKENS).values(**values)), "storing a token")

    def use_refresh_token(self, jti: str, username: str) -> bool:
        """Mark a refresh token used; ``False`` if it is unknown, expired or already used
        (a reused token revokes every refresh token of the user: it was stolen or replayed)."""
        outcome: list[bool] = []

        def run(conn: Connection) -> None:
            now = _now()
            row = conn.execute(
                select(REFRESH_TOKENS).where(
                    REFRESH_TOKENS.c.jti == jti, REFRESH_TOKENS.c.username == username
                )
            ).first()
            if row is None or (_aware(row.expires_at) or now) <= now:
                outcome.append(False)
                return
            if row.used_at is not None:
                conn.execute(
                    update(REFRESH_TOKENS)
                    .where(
                        REFRESH_TOKENS.c.username == username, REFRESH_TOKENS.c.used_at.is_(None)
                    )
                    .values(used_at=now)
                )
                outcome.append(False)
                return
            result = conn.execute(
                update(REFRESH_TOKENS)
                .where(REFRESH_TOKENS.c.jti == jti, REFRESH_TOKENS.c.used_at.is_(None))
                .values(used_at=now)
            )
            outcome.append(result.rowcount == 1)

        self._write(run, "using a refresh token")
        return bool(outcome and outcome[0])

    # -- audit --------------------------------------------------------------------------------

    def audit(self, entry: AuditEntry) -> None:
        """Append one line to the audit log."""
        values = {
            "created_at": entry.created_at,
            "username": entry.username[:USER_LEN],
            "operation": entry.operation[:64],
            "resource": entry.resource[:512],
            "outcome": entry.outcome[:16],
            "status_code": entry.status_code,
            "client_address": entry.client_address[:64],
            "detail": entry.detail[:1024],
        }
        self._write(
            lambda c: c.execute(insert(AUDIT_LOG).values(**values)), "writing the audit log"
        )

    def audit_entries(
        self,
        *,
        username: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """The newest audit lines first, optionally filtered."""
        stmt = select(AUDIT_LOG).order_by(AUDIT_LOG.c.id.desc()).limit(limit)
        if username is not None:
            stmt = stmt.where(AUDIT_LOG.c.username == username)
        if outcome is not None:
            stmt = stmt.where(AUDIT_LOG.c.outcome == outcome)
        if since is not None:
            stmt = stmt.where(AUDIT_LOG.c.created_at >= since)
        rows = self._read(lambda c: list(c.execute(stmt)), "reading the audit log")
        return [
            AuditEntry(
                _aware(r.created_at) or _now(),
                r.username,
                r.operation,
                r.resource,
                r.outcome,
                int(r.status_code),
                r.client_address,
                r.detail,
                int(r.id),
            )
            for r in rows
        ]

    def login_failures(
        self, operations: Sequence[str], client_address: str, username: str, since: datetime
    ) -> LoginFailures:
        """Failed logins (401) of ``operations`` since ``since`` from ``client_address``: for
        ``username`` since its last successful login from there, and for any user name (the
        login throttle's input, shared by every replica)."""
        logins = (
            AUDIT_LOG.c.operation.in_(tuple(operations)),
            AUDIT_LOG.c.client_address == client_address[:64],
            AUDIT_LOG.c.created_at >= since,
        )
        last_success = select(func.max(AUDIT_LOG.c.id)).where(
            *logins, AUDIT_LOG.c.username == username[:USER_LEN], AUDIT_LOG.c.outcome == "allowed"
        )

        def run(conn: Connection) -> LoginFailures:
            success = conn.execute(last_success).scalar_one_or_none() or 0
            pair = (AUDIT_LOG.c.username == username[:USER_LEN]) & (AUDIT_LOG.c.id > success)
            row = conn.execute(
                select(
                    func.count(case((pair, 1))),
                    func.max(case((pair, AUDIT_LOG.c.created_at))),
                    func.count(),
                    func.max(AUDIT_LOG.c.created_at),
                ).where(*logins, AUDIT_LOG.c.outcome == "denied", AUDIT_LOG.c.status_code == 401)
            ).one()
            return LoginFailures(
                int(row[0]), _aware(row[1]), int(row[2]), _aware(row[3]), success > 0
            )

        return self._read(run, "reading the audit log")
