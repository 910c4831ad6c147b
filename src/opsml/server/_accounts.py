"""Account routes: who am I, API tokens (self-service), users and the audit log (admins)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from opsml._validation import empty_list
from opsml.errors import AccountError, CardNotFoundError, PermissionDeniedError
from opsml.server._authz import Scope, access, current_user
from opsml.server._models import DeletedResponse
from opsml.server._security import Permission, Principal, parse_grants
from opsml.server._state import ERRORS, ServerState, state
from opsml.store import PermissionRow

__all__ = ["accounts", "change_user", "revoke_token"]

accounts = APIRouter(prefix="/opsml/api", responses=ERRORS)
StateDep = Annotated[ServerState, Depends(state)]
UserDep = Annotated[Principal, Depends(current_user)]
Username = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")]
_GRANT = r"^(\*|[A-Za-z0-9][A-Za-z0-9_-]{0,127}):[a-z,]{1,32}$"


class Grant(BaseModel):
    """What a user may do in one space (``*``: every space)."""

    space: str
    read: bool
    write: bool
    delete: bool


class UserInfo(BaseModel):
    """A user (never their password hash)."""

    username: str
    is_admin: bool
    grants: list[Grant]


class NewUser(BaseModel):
    """``POST /users``: grants as ``SPACE:PERMS`` (``team-a:read,write``, ``*:read``)."""

    username: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
    password: str = Field(min_length=8, max_length=1024)
    is_admin: bool = False
    grants: list[Annotated[str, Field(pattern=_GRANT)]] = Field(default_factory=empty_list)


class UserChange(BaseModel):
    """``PUT /users/{username}``: what to change (``None``: leave as is)."""

    password: str | None = Field(default=None, min_length=8, max_length=1024)
    is_admin: bool | None = None
    grants: list[Annotated[str, Field(pattern=_GRANT)]] | None = None


class NewApiToken(BaseModel):
    """``POST /auth/api-tokens``."""

    name: str = Field(min_length=1, max_length=128)
    ttl_days: int | None = Field(default=None, ge=1, le=3650)


class ApiTokenInfo(BaseModel):
    """An API token's metadata (the secret is shown only once, at creation)."""

    token_id: str
    username: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class CreatedApiToken(ApiTokenInfo):
    """A new API token: ``token`` is the secret to send as ``Authorization: Bearer``."""

    token: str


class AuditLine(BaseModel):
    """One audit log entry."""

    created_at: datetime
    username: str
    operation: str
    resource: str
    outcome: str
    status_code: int
    client_address: str
    detail: str = ""


def _user_info(st: ServerState, username: str) -> UserInfo:
    user = st.auth_store.get_user(username)
    if user is None:
        raise CardNotFoundError(f"no user {username!r}")
    grants = [
        Grant(space=g.space, read=g.read, write=g.write, delete=g.delete)
        for g in st.auth_store.permissions(username)
    ]
    return UserInfo(username=user.username, is_admin=user.is_admin, grants=grants)


def revoke_token(st: ServerState, user: Principal, token_id: str) -> None:
    """Revoke an API token at once: the caller's own, or (admins) anyone's.

    Raises:
        CardNotFoundError: No such token.
        PermissionDeniedError: Another user's token, and the caller is no admin.
    """
    row = st.auth_store.get_api_token(token_id)
    if row is None:
        raise CardNotFoundError(f"no API token {token_id!r}")
    if row.username != user.username and not user.allows(Permission.Admin, None):
        raise PermissionDeniedError("only an admin can revoke another user's token")
    st.auth_store.revoke_api_token(token_id)


def change_user(
    st: ServerState,
    username: str,
    *,
    password: str | None = None,
    is_admin: bool | None = None,
    grants: Sequence[PermissionRow] | None = None,
) -> None:
    """Change a user's password, admin flag or permissions (``None``: leave as is), by the
    rules of ``PUT /users/{username}``, which the UI's admin pages share.

    Raises:
        CardNotFoundError: No such user.
        AccountError: The change would leave the server without an admin.
        InvalidArgumentError: A password of the wrong length.
    """
    _user_info(st, username)
    if is_admin is False and st.auth_store.admin_count() <= 1:
        current = st.auth_store.get_user(username)
        if current is not None and current.is_admin:
            raise AccountError(f"{username!r} is the last admin")
    if password is not None:
        st.security.reset_password(username, password)
    if is_admin is not None:
        st.auth_store.update_user(username, is_admin=is_admin)
    if grants is not None:
        st.auth_store.set_permissions(username, grants)


@accounts.get(
    "/auth/me",
    response_model=UserInfo,
    tags=["auth"],
    dependencies=[access(Permission.Read, Scope.Account)],
)
def me(st: StateDep, user: UserDep) -> UserInfo:
    """The caller and their permissions."""
    if user.unrestricted:
        return UserInfo(username=user.username, is_admin=True, grants=[])
    return _user_info(st, user.username)


@accounts.post(
    "/auth/api-tokens",
    response_model=CreatedApiToken,
    tags=["auth"],
    dependencies=[access(Permission.Write, Scope.Account)],
)
def create_api_token(st: StateDep, user: UserDep, body: NewApiToken) -> CreatedApiToken:
    """A new API token acting as the caller (for CI); its secret is returned only now."""
    token, row = st.security.create_api_token(user.username, body.name, body.ttl_days)
    return CreatedApiToken(token=token, **_token_fields(row))


def _token_fields(row: object) -> dict[str, object]:
    return {k: getattr(row, k) for k in ApiTokenInfo.model_fields}


@accounts.get(
    "/auth/api-tokens",
    response_model=list[ApiTokenInfo],
    tags=["auth"],
    dependencies=[access(Permission.Read, Scope.Account)],
)
def list_api_tokens(
    st: StateDep, user: UserDep, all_users: Annotated[bool, Query(alias="all")] = False
) -> list[ApiTokenInfo]:
    """The caller's API tokens (an admin may ask for everyone's with ``all=true``)."""
    if all_users:
        user.require(Permission.Admin, None)
    rows = st.auth_store.list_api_tokens(None if all_users else user.username)
    return [ApiTokenInfo(**_token_fields(r)) for r in rows]


@accounts.delete(
    "/auth/api-tokens/{token_id}",
    response_model=DeletedResponse,
    tags=["auth"],
    dependencies=[access(Permission.Write, Scope.Account)],
)
def revoke_api_token(
    st: StateDep, user: UserDep, token_id: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]
) -> DeletedResponse:
    """Revoke an API token at once (the caller's own; admins: anyone's)."""
    revoke_token(st, user, token_id)
    return DeletedResponse(uid=token_id)


@accounts.get(
    "/users",
    response_model=list[UserInfo],
    tags=["users"],
    dependencies=[access(Permission.Admin, Scope.Server)],
)
def list_users(st: StateDep) -> list[UserInfo]:
    """Every user with their permissions."""
    return [_user_info(st, u.username) for u in st.auth_store.list_users()]


@accounts.post(
    "/users",
    response_model=UserInfo,
    tags=["users"],
    dependencies=[access(Permission.Admin, Scope.Server)],
)
def create_user(st: StateDep, body: NewUser) -> UserInfo:
    """Add a user."""
    st.security.create_user(body.username, body.password, body.is_admin, parse_grants(body.grants))
    return _user_info(st, body.username)


@accounts.put(
    "/users/{username}",
    response_model=UserInfo,
    tags=["users"],
    dependencies=[access(Permission.Admin, Scope.Server)],
)
def update_user(st: StateDep, username: Username, body: UserChange) -> UserInfo:
    """Change a user's password, admin flag or permissions.

    A new password revokes every token the user held: access and refresh tokens stop
    working at once and their API tokens are revoked. Permissions and the admin flag are
    read on every request, so a change applies to the user's next request, whatever token
    they use.
    """
    grants = None if body.grants is None else parse_grants(body.grants)
    change_user(st, username, password=body.password, is_admin=body.is_admin, grants=grants)
    return _user_info(st, username)


@accounts.delete(
    "/users/{username}",
    response_model=DeletedResponse,
    tags=["users"],
    dependencies=[access(Permission.Admin, Scope.Server)],
)
def delete_user(st: StateDep, username: Username) -> DeletedResponse:
    """Delete a user with every token they held: access, refresh and API tokens stop working
    at once (the last admin cannot be deleted)."""
    _user_info(st, username)
    st.auth_store.delete_user(username)
    return DeletedResponse(uid=username)


@accounts.get(
    "/audit",
    response_model=list[AuditLine],
    tags=["users"],
    dependencies=[access(Permission.Admin, Scope.Server)],
)
def audit(
    st: StateDep,
    username: Annotated[str | None, Query(max_length=128)] = None,
    outcome: Annotated[str | None, Query(pattern=r"^(allowed|denied|error)$")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[AuditLine]:
    """The audit log, newest first."""
    rows = st.auth_store.audit_entries(username=username, outcome=outcome, limit=limit)
    return [
        AuditLine(
            created_at=r.created_at,
            username=r.username,
            operation=r.operation,
            resource=r.resource,
            outcome=r.outcome,
            status_code=r.status_code,
            client_address=r.client_address,
            detail=r.detail,
        )
        for r in rows
    ]
