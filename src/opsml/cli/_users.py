"""``opsml user …`` and ``opsml audit``: manage the server's users and read its audit log.

These commands run where the database is (on the server, with the server's
``OPSML_TRACKING_URI``), like ``opsml gc``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from opsml.cli._command import OpsmlTyper
from opsml.cli._output import JsonFlag, count, print_json, print_table
from opsml.errors import AccountError, InvalidArgumentError

__all__ = ["audit", "user_app"]

user_app = OpsmlTyper(
    help="Manage the server's users, permissions and API tokens.\n\n"
    "These commands run where the database is (on the server)."
)
token_app = OpsmlTyper(help="API tokens for CI: create, list, revoke.")
user_app.add_typer(token_app, name="token")

GrantOption = Annotated[
    list[str] | None,
    typer.Option(
        "--grant",
        help="SPACE:PERMS with PERMS from read,write,delete (repeatable; * = every space).",
    ),
]


def _security() -> Any:
    from opsml.server import Security, ServerConfig
    from opsml.store import AuthStore, SqlStore

    config = ServerConfig.from_env()
    store = AuthStore(SqlStore.from_url(config.opsml.tracking_uri))
    return Security(store, config.token_secret, config.refresh_secret)


def guard(fn: Any) -> Any:
    from opsml.cli._common import guard

    return guard(fn)


def _new_password(password: str | None) -> str:
    if password is not None:
        return password
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@user_app.command("create")
def create(
    username: Annotated[str, typer.Argument(metavar="USERNAME", help="The new user's name.")],
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an admin.")] = False,
    grant: GrantOption = None,
    password: Annotated[
        str | None,
        typer.Option(help="The password (prompted for, hidden, when omitted)."),
    ] = None,
) -> None:
    """Create a user with a password and per-space permissions."""
    from opsml.server import parse_grants

    secret = _new_password(password)
    guard(lambda: _security().create_user(username, secret, admin, parse_grants(grant or [])))
    typer.echo(f"created user {username}")


@user_app.command("list")
def list_users(as_json: JsonFlag = False) -> None:
    """List users with their permissions."""

    def run() -> list[tuple[Any, list[Any]]]:
        store = _security().store
        return [(u, store.permissions(u.username)) for u in store.list_users()]

    users = [
        {
            "username": user.username,
            "admin": user.is_admin,
            "permissions": {
                g.space: [p for p in ("read", "write", "delete") if getattr(g, p)] for g in grants
            },
        }
        for user, grants in guard(run)
    ]
    if as_json:
        print_json(users)
        return
    rows = [
        (
            user["username"],
            "yes" if user["admin"] else "",
            "; ".join(f"{space}:{','.join(p)}" for space, p in user["permissions"].items()),
        )
        for user in users
    ]
    print_table(count(len(rows), "user"), ("username", "admin", "permissions"), rows)


@user_app.command("set-permissions")
def set_permissions(
    username: Annotated[str, typer.Argument(metavar="USERNAME", help="The user.")],
    grant: GrantOption = None,
    admin: Annotated[
        bool | None, typer.Option("--admin/--no-admin", help="Grant or take admin rights.")
    ] = None,
) -> None:
    """Replace a user's permissions (and admin flag, if given).

    Permissions are read on every request: the change applies to the user's next request,
    whatever token they use (access, refresh or API token); no token is revoked.
    """
    from opsml.server import parse_grants

    def run() -> None:
        security = _security()
        store = security.store
        if store.get_user(username) is None:
            raise InvalidArgumentError(f"no user {username!r}")
        if admin is False and store.admincount() <= 1 and store.get_user(username).is_admin:
            raise AccountError(f"{username!r} is the last admin")
        store.set_permissions(username, parse_grants(grant or []))
        if admin is not None:
            store.update_user(username, is_admin=admin)

    guard(run)
    typer.echo(f"updated permissions of {username} (effective at their next request)")


@user_app.command("reset-password")
def reset_password(
    username: Annotated[str, typer.Argument(metavar="USERNAME", help="The user.")],
    password: Annotated[
        str | None, typer.Option(help="The new password (prompted for when omitted).")
    ] = None,
) -> None:
    """Set a new password and revoke every token the user held.

    Access and refresh tokens stop working at once, and their API tokens are revoked (create
    new ones for CI).
    """
    secret = _new_password(password)
    revoked = guard(lambda: _security().reset_password(username, secret))
    typer.echo(
        f"password of {username} reset; access and refresh tokens revoked, "
        f"{revoked} API token{'' if revoked == 1 else 's'} revoked"
    )


@user_app.command("delete")
def delete(username: Annotated[str, typer.Argument(metavar="USERNAME", help="The user.")]) -> None:
    """Delete a user with every token they held.

    Their access, refresh and API tokens stop working at once; the last admin cannot be
    deleted.
    """
    deleted = guard(lambda: _security().store.delete_user(username))
    typer.echo(
        f"deleted user {username}; access and refresh tokens revoked, "
        f"{deleted} API token{'' if deleted == 1 else 's'} deleted"
    )


@token_app.command("create")
def token_create(
    username: Annotated[
        str, typer.Argument(metavar="USERNAME", help="The user the token acts as.")
    ],
    name: Annotated[str, typer.Option(help="What the token is for, e.g. 'nightly CI'.")],
    ttl_days: Annotated[
        int | None, typer.Option(help="Expire after this many days (default: never).")
    ] = None,
) -> None:
    """Create an API token, printed once.

    Set it as OPSML_API_TOKEN in CI.
    """
    token, row = guard(lambda: _security().create_api_token(username, name, ttl_days))
    typer.echo(f"token {row.token_id} for {username}: {token}")


@token_app.command("list")
def token_list(
    username: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List API tokens (never their secrets)."""
    tokens = [
        {
            "token_id": row.token_id,
            "username": row.username,
            "name": row.name,
            "state": "revoked" if row.revoked_at else "active",
            "created_at": row.created_at.isoformat(),
            "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        }
        for row in guard(lambda: _security().store.list_api_tokens(username))
    ]
    if as_json:
        print_json(tokens)
        return
    columns = ("token", "user", "name", "state", "expires")
    rows = [
        (t["token_id"], t["username"], t["name"], t["state"], t["expires_at"] or "never")
        for t in tokens
    ]
    print_table(count(len(rows), "API token"), columns, rows)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(metavar="TOKEN_ID", help="The token's id.")],
) -> None:
    """Revoke an API token: it stops working at once."""

    def run() -> None:
        if not _security().store.revoke_api_token(token_id):
            raise InvalidArgumentError(f"no active API token {token_id!r}")

    guard(run)
    typer.echo(f"revoked token {token_id}")


def audit(
    user: Annotated[str | None, typer.Option(help="Only this user's requests.")] = None,
    outcome: Annotated[str | None, typer.Option(help="allowed, denied or error.")] = None,
    limit: Annotated[int, typer.Option(metavar="N", help="At most this many lines.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Show the audit log, newest first: every write, every denied request, every alias move."""
    entries = [
        {
            "time": e.created_at.isoformat(),
            "username": e.username,
            "operation": e.operation,
            "resource": e.resource,
            "outcome": e.outcome,
            "status_code": e.status_code,
            "client_address": e.client_address,
            "detail": e.detail,
        }
        for e in guard(
            lambda: _security().store.audit_entries(username=user, outcome=outcome, limit=limit)
        )
    ]
    if as_json:
        print_json(entries)
        return
    columns = (
        "time (UTC)",
        "user",
        "operation",
        "resource",
        "outcome",
        "status",
        "client",
        "detail",
    )
    rows = [
        (
            e["time"][:19].replace("T", " "),
            e["username"],
            e["operation"],
            e["resource"],
            e["outcome"],
            str(e["status_code"]),
            e["client_address"],
            e["detail"],
        )
        for e in entries
    ]
    print_table(f"audit log ({count(len(rows), 'entry', 'entries')})", columns, rows)
