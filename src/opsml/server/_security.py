"""Users, passwords, tokens and permissions: who is calling, and what they may do.

- Passwords are hashed with argon2id (``argon2-cffi``); a hash made with weaker parameters
  is upgraded at the next successful login.
- Access tokens are short-lived JWTs (HS256) signed with ``OPSML_AUTH_SECRET``; refresh
  tokens are JWTs signed with a separate secret (``OPSML_REFRESH_SECRET``), valid once:
  refreshing returns a new pair, and replaying a used refresh token revokes all of that
  user's refresh tokens. Each secret may be a comma-separated list: the first signs, all
  verify (secret rotation without logging everyone out).
- Every token carries the user's token version; a password reset bumps it, so older tokens
  stop working at once. A new user starts at a random version, so a token of a deleted user
  never fits a new user of the same name.
- API tokens for CI (``opsml_<id>_<secret>``) are stored as SHA-256 digests, checked on
  every request, and revocable at once; a password reset revokes them all, and deleting a
  user deletes them.
- Permissions are ``read``, ``write`` and ``delete`` per space (``*``: every space);
  admins may do everything, including managing users. A change takes effect at the
  caller's next request, whatever token they use.
- A verified token is remembered with the caller's permissions for a few seconds
  (``OPSML_AUTH_CACHE_SECONDS``, never past the token's expiry) while the security epoch in
  the database is unchanged: every change of a user, a permission or a token (a password
  reset, a revoked API token, a deleted user) increments it in the same transaction, and
  every request reads it, on every replica. So a revoked token fails at its next request,
  as without the cache; what is saved is decoding the token and reading the user, their
  permissions and the API token on every request.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from opsml._compat import require
from opsml.errors import (
    AuthenticationError,
    InvalidArgumentError,
    PermissionDeniedError,
)
from opsml.store import ANY_SPACE, ApiTokenRow, AuthStore, PermissionRow, UserRow

__all__ = [
    "API_TOKEN_PREFIX",
    "Permission",
    "Principal",
    "Security",
    "TokenPair",
    "parse_grants",
    "validate_username",
]

API_TOKEN_PREFIX = "opsml_"
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
_SPACE = re.compile(r"^(\*|[a-z0-9][a-z0-9_-]{0,127})$")
MIN_PASSWORD = 8
MIN_SECRET_BYTES = 32


class Permission(enum.StrEnum):
    """What a route needs on the space it touches (``admin``: user management)."""

    Read = "read"
    Write = "write"
    Delete = "delete"
    Admin = "admin"


def validate_username(value: str) -> str:
    """Check a username: 1-128 of letters, digits, ``_ . @ -``, starting alphanumeric.

    Raises:
        InvalidArgumentError: It does not fit.
    """
    if not isinstance(value, str) or not _USERNAME.fullmatch(value):
        raise InvalidArgumentError(
            f"invalid username {value!r}: 1-128 letters, digits, '_', '.', '@' or '-', "
            "starting with a letter or digit"
        )
    return value


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD or len(password) > 1024:
        raise InvalidArgumentError(f"a password needs {MIN_PASSWORD} to 1024 characters")


def parse_grants(specs: Sequence[str]) -> list[PermissionRow]:
    """Parse ``SPACE:PERMS`` strings (``team-a:read,write``, ``*:read``) into grants.

    Raises:
        InvalidArgumentError: A malformed space or an unknown permission.
    """
    merged: dict[str, set[str]] = {}
    for spec in specs:
        space, sep, perms = spec.partition(":")
        space = space.strip().lower()
        if not sep or not _SPACE.fullmatch(space):
            raise InvalidArgumentError(
                f"invalid grant {spec!r}: use SPACE:PERMS, e.g. team-a:read,write or *:read"
            )
        wanted = {p.strip().lower() for p in perms.split(",") if p.strip()}
        unknown = wanted - {"read", "write", "delete"}
        if not wanted or unknown:
            raise InvalidArgumentError(
                f"invalid grant {spec!r}: permissions are read, write and delete"
            )
        merged.setdefault(space, set()).update(wanted)
    return [
        PermissionRow(space, "read" in p, "write" in p, "delete" in p)
        for space, p in sorted(merged.items())
    ]


@dataclass(frozen=True)
class Principal:
    """The authenticated caller and their permissions.

    Attributes:
        username: Who it is (``guest`` when the server runs without auth).
        is_admin: Admins may do everything.
        grants: Per-space permissions.
        unrestricted: No auth configured: everything is allowed.
    """

    username: str
    is_admin: bool = False
    grants: tuple[PermissionRow, ...] = ()
    unrestricted: bool = False

    def allows(self, permission: Permission, space: str | None) -> bool:
        """Whether the caller may do ``permission`` in ``space``.

        ``space=None`` asks about *some* space (a listing that is filtered afterwards).
        """
        if self.unrestricted or self.is_admin:
            return True
        if permission is Permission.Admin:
            return False
        for grant in self.grants:
            if space is not None and grant.space not in (space, ANY_SPACE):
                continue
            if getattr(grant, permission.value):
                return True
        return False

    def allows_everywhere(self, permission: Permission) -> bool:
        """Whether the caller may do ``permission`` in every space (so a check of one
        space needs no lookup of which space it is)."""
        if self.unrestricted or self.is_admin:
            return True
        if permission is Permission.Admin:
            return False
        return any(
            grant.space == ANY_SPACE and getattr(grant, permission.value) for grant in self.grants
        )

    def readable_spaces(self) -> set[str] | None:
        """Spaces the caller may read (``None``: every space)."""
        if self.unrestricted or self.is_admin:
            return None
        spaces = {g.space for g in self.grants if g.read}
        return None if ANY_SPACE in spaces else spaces

    def require(self, permission: Permission, space: str | None) -> None:
        """Raise unless the caller may do ``permission`` in ``space``.

        Raises:
            PermissionDeniedError: Not allowed (the message says what is missing).
        """
        if not self.allows(permission, space):
            where = f" in space {space!r}" if space is not None else ""
            raise PermissionDeniedError(
                f"user {self.username!r} lacks the {permission.value} permission{where}"
            )


@dataclass(frozen=True)
class TokenPair:
    """What a login or a refresh returns."""

    access_token: str
    refresh_token: str
    expires_in: int


def _secrets(value: str) -> list[str]:
    return [s.strip() for s in value.split(",") if s.strip()]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class Security:
    """Authentication and authorisation on top of :class:`AuthStore`.

    Attributes:
        store: The security tables.
        access_secret: Signs access tokens (comma-separated list: first signs, all verify).
        refresh_secret: Signs refresh tokens (must differ from ``access_secret``).
        access_ttl: Access token lifetime in seconds.
        refresh_ttl: Refresh token lifetime in seconds.
        cache_seconds: How long a verified token is remembered at most (0: never).
    """

    store: AuthStore
    access_secret: str = field(repr=False)
    refresh_secret: str = field(repr=False)
    access_ttl: int = 900
    refresh_ttl: int = 7 * 24 * 3600
    cache_seconds: float = 10.0

    def __post_init__(self) -> None:
        for value in (*_secrets(self.access_secret), *_secrets(self.refresh_secret)):
            if len(value.encode()) < MIN_SECRET_BYTES:
                raise InvalidArgumentError(
                    f"token secrets need at least {MIN_SECRET_BYTES} bytes (HS256)"
                )
        if not _secrets(self.access_secret) or not _secrets(self.refresh_secret):
            raise InvalidArgumentError("token secrets must not be empty")
        if set(_secrets(self.access_secret)) & set(_secrets(self.refresh_secret)):
            raise InvalidArgumentError("access and refresh tokens need different secrets")
        self._hasher = _password_hasher()
        self._verified: dict[str, _Verified] = {}

    # -- users --------------------------------------------------------------------------------

    def hash_password(self, password: str) -> str:
        """An argon2id hash of ``password``.

        Raises:
            InvalidArgumentError: Shorter than 8 or longer than 1024 characters.
        """
        _check_password(password)
        return str(self._hasher.hash(password))

    def create_user(
        self,
        username: str,
        password: str,
        is_admin: bool = False,
        grants: Sequence[PermissionRow] = (),
    ) -> None:
        """Add a user with a password and permissions.

        Raises:
            InvalidArgumentError: Bad username or password.
            AccountError: The username is taken.
        """
        validate_username(username)
        self.store.create_user(username, self.hash_password(password), is_admin)
        if grants:
            self.store.set_permissions(username, grants)

    def reset_password(self, username: str, password: str) -> int:
        """Set a new password and revoke every token the user holds: access and refresh
        tokens stop working at once, and their API tokens are revoked.

        Returns:
            How many API tokens were revoked.

        Raises:
            InvalidArgumentError: No such user, or a password of the wrong length.
        """
        return self.store.reset_password(username, self.hash_password(password))

    def ensure_admin(self, username: str, password: str) -> bool:
        """Create the initial admin when there are no users yet.

        Returns:
            Whether the admin was created.
        """
        if self.store.count_users() > 0:
            return False
        try:
            self.create_user(username, password, is_admin=True)
        except Exception:
            if self.store.count_users() > 0:  # another replica created it at the same time
                return False
            raise
        return True

    def check_password(self, username: str, password: str) -> UserRow:
        """The user, if ``password`` is theirs.

        Raises:
            AuthenticationError: Unknown user or wrong password (one message for both).
        """
        argon2 = require("argon2", "server")
        user = self.store.get_user(username) if _USERNAME.fullmatch(username or "") else None
        try:
            if user is None:
                self._hasher.verify(_DUMMY_HASH.get(self._hasher), password)  # same timing
                raise AuthenticationError("invalid username or password")
            self._hasher.verify(user.password_hash, password)
        except argon2.exceptions.VerificationError:
            raise AuthenticationError("invalid username or password") from None
        except argon2.exceptions.InvalidHashError:
            raise AuthenticationError("invalid username or password") from None
        if self._hasher.check_needs_rehash(user.password_hash):
            self.store.update_user(username, password_hash=self._hasher.hash(password))
        return user

    def principal(self, username: str) -> Principal:
        """The caller ``username`` with their current permissions.

        Raises:
            AuthenticationError: The user no longer exists.
        """
        user = self._existing_user(username)
        return Principal(user.username, user.is_admin, tuple(self.store.permissions(username)))

    def _existing_user(self, username: str) -> UserRow:
        user = self.store.get_user(username)
        if user is None:
            raise AuthenticationError(f"user {username!r} no longer exists")
        return user

    # -- tokens -------------------------------------------------------------------------------

    def login(self, username: str, password: str) -> TokenPair:
        """Check the password and issue a token pair.

        Raises:
            AuthenticationError: Wrong credentials.
        """
        return self._issue(self.check_password(username, password))

    def issue(self, username: str) -> TokenPair:
        """A token pair for an existing user who proved who they are elsewhere (single
        sign-on).

        Raises:
            AuthenticationError: The user no longer exists.
        """
        return self._issue(self._existing_user(username))

    def access_token(self, username: str) -> str:
        """A fresh access token for an existing user (the UI's sliding session).

        Raises:
            AuthenticationError: The user no longer exists.
        """
        return self._access(self._existing_user(username))

    def _access(self, user: UserRow) -> str:
        jwt = require("jwt", "server")
        now = datetime.now(UTC)
        return str(
            jwt.encode(
                {
                    "sub": user.username,
                    "typ": "access",
                    "ver": user.token_version,
                    "iat": now,
                    "exp": now + timedelta(seconds=self.access_ttl),
                },
                _secrets(self.access_secret)[0],
                algorithm="HS256",
            )
        )

    def _issue(self, user: UserRow) -> TokenPair:
        jwt = require("jwt", "server")
        now = datetime.now(UTC)
        access = self._access(user)
        jti = secrets.token_urlsafe(24)
        expires = now + timedelta(seconds=self.refresh_ttl)
        refresh = jwt.encode(
            {
                "sub": user.username,
                "typ": "refresh",
                "ver": user.token_version,
                "jti": jti,
                "iat": now,
                "exp": expires,
            },
            _secrets(self.refresh_secret)[0],
            algorithm="HS256",
        )
        self.store.add_refresh_token(jti, user.username, expires)
        return TokenPair(access, str(refresh), self.access_ttl)

    def _decode(self, token: str, secrets_: str, kind: str) -> dict[str, Any]:
        jwt = require("jwt", "server")
        for key in _secrets(secrets_):
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key,
                    algorithms=["HS256"],
                    options={"require": ["sub", "exp", "iat", "typ", "ver"]},
                )
            except jwt.ExpiredSignatureError:
                raise AuthenticationError(f"{kind} token expired; log in again") from None
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError:
                raise AuthenticationError(f"malformed {kind} token") from None
            if claims.get("typ") != kind:
                raise AuthenticationError(f"not a {kind} token")
            return claims
        raise AuthenticationError(f"invalid {kind} token")

    def _current_user(self, claims: dict[str, Any], kind: str) -> UserRow:
        user = self.store.get_user(str(claims["sub"]))
        if user is None or user.token_version != claims.get("ver"):
            raise AuthenticationError(f"{kind} token revoked; log in again")
        return user

    def refresh(self, refresh_token: str) -> TokenPair:
        """A new token pair for a valid, unused refresh token (which is used up).

        Raises:
            AuthenticationError: Invalid, expired, revoked or already used.
        """
        claims = self._decode(refresh_token, self.refresh_secret, "refresh")
        user = self._current_user(claims, "refresh")
        if not self.store.use_refresh_token(str(claims.get("jti", "")), user.username):
            raise AuthenticationError("refresh token already used or revoked; log in again")
        return self._issue(user)

    def authenticate(self, token: str) -> Principal:
        """The caller a bearer token (access JWT or API token) identifies.

        A token verified less than ``cache_seconds`` ago, before its expiry and at the
        current security epoch, is not verified again (one read of the epoch instead of
        decoding it and reading the user, their permissions and the API token).

        Raises:
            AuthenticationError: Invalid, expired or revoked.
        """
        epoch = self.store.epoch() if self.cache_seconds > 0 else None
        now = time.time()
        known = self.remembered(token, epoch)
        if known is not None:
            return known
        # The epoch is read before the checks: a change committed in between bumps it past
        # the one remembered here, so the next request checks again.
        principal, expires = self._verify(token)
        if epoch is not None:
            self._remember(
                token, _Verified(principal, epoch, min(now + self.cache_seconds, expires))
            )
        return principal

    def remembered(self, token: str, epoch: int | None) -> Principal | None:
        """The caller ``token`` identified when it was verified less than
        ``cache_seconds`` ago, before its expiry, at security epoch ``epoch`` (the one
        read now); ``None``: it must be verified (:meth:`authenticate`)."""
        if epoch is None:
            return None
        known = self._verified.get(token)
        if known is not None and known.epoch == epoch and time.time() < known.until:
            return known.principal
        return None

    def _verify(self, token: str) -> tuple[Principal, float]:
        """The caller a token identifies, checked in full, and when the token expires."""
        if token.startswith(API_TOKEN_PREFIX):
            username, expires_at = self._check_api_token(token)
            expires = math.inf if expires_at is None else expires_at.timestamp()
            return self.principal(username), expires
        claims = self._decode(token, self.access_secret, "access")
        return self.principal(self._current_user(claims, "access").username), float(claims["exp"])

    def _remember(self, token: str, verified: _Verified) -> None:
        if len(self._verified) >= _REMEMBERED_TOKENS:
            now = time.time()
            for key in [k for k, v in self._verified.items() if v.until <= now]:
                self._verified.pop(key, None)
            while len(self._verified) >= _REMEMBERED_TOKENS:
                self._verified.pop(next(iter(self._verified)), None)
        self._verified[token] = verified

    # -- API tokens ---------------------------------------------------------------------------

    def create_api_token(
        self, username: str, name: str, ttl_days: int | None = None
    ) -> tuple[str, ApiTokenRow]:
        """A new API token for ``username`` (shown once; only its digest is stored).

        Raises:
            InvalidArgumentError: Unknown user, or a bad name or lifetime.
        """
        if self.store.get_user(username) is None:
            raise InvalidArgumentError(f"no user {username!r}")
        if not name or len(name) > 128 or "\x00" in name:
            raise InvalidArgumentError("a token name needs 1 to 128 characters")
        if ttl_days is not None and ttl_days <= 0:
            raise InvalidArgumentError("a token lifetime must be a positive number of days")
        token_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        row = ApiTokenRow(
            token_id,
            username,
            name,
            _digest(secret),
            now,
            None if ttl_days is None else now + timedelta(days=ttl_days),
            None,
        )
        self.store.add_api_token(row)
        return f"{API_TOKEN_PREFIX}{token_id}_{secret}", row

    def _check_api_token(self, token: str) -> tuple[str, datetime | None]:
        token_id, _, secret = token.removeprefix(API_TOKEN_PREFIX).partition("_")
        row = self.store.get_api_token(token_id) if token_id and secret else None
        if row is None or not hmac.compare_digest(row.token_hash, _digest(secret)):
            raise AuthenticationError("invalid API token")
        if row.revoked_at is not None:
            raise AuthenticationError("API token revoked")
        if row.expires_at is not None and row.expires_at <= datetime.now(UTC):
            raise AuthenticationError("API token expired")
        return row.username, row.expires_at


_REMEMBERED_TOKENS = 10_000


@dataclass(frozen=True)
class _Verified:
    """A verified token: who it is, at which security epoch, and until when to believe it."""

    principal: Principal
    epoch: int
    until: float


def _password_hasher() -> Any:
    argon2 = require("argon2", "server")
    return argon2.PasswordHasher()


class _DummyHash:
    """A hash to verify against for unknown users, so timing does not tell them apart."""

    def __init__(self) -> None:
        self._value: str | None = None

    def get(self, hasher: Any) -> str:
        if self._value is None:
            self._value = str(hasher.hash(secrets.token_urlsafe(16)))
        return self._value


_DUMMY_HASH = _DummyHash()
