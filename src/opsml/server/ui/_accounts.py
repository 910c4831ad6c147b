"""Self-service and user management in the browser: the profile page (who am I, my
permissions, my API tokens, my password) and the admin pages (users and their permissions).

Every form is a plain HTML ``POST`` answered by a redirect (the new API token excepted: it is
shown once, on the page that answers its form). The rules are the JSON API's, through the
same functions (:func:`~opsml.server._accounts.change_user`,
:func:`~opsml.server._accounts.revoke_token`, :class:`~opsml.server._security.Security`), so
the last admin stays, every change bumps the security epoch and the audit middleware records
every post. Forms are CSRF-safe like the login form: the session cookie is
``SameSite=Strict`` and :class:`~opsml.server._authz.SameOrigin` refuses a post to ``/ui/``
from any other origin.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from opsml.errors import (
    AccountError,
    AuthenticationError,
    CardNotFoundError,
    InvalidArgumentError,
    RateLimitError,
)
from opsml.server._accounts import change_user, revoke_token
from opsml.server._errors import status_for
from opsml.server._security import Permission, Principal, parse_grants, validate_username
from opsml.server._state import ServerState, state
from opsml.server._throttle import LoginThrottle
from opsml.store import PermissionRow, UserRow

if TYPE_CHECKING:
    from opsml.server.ui._routes import _Ui

__all__ = ["install_accounts"]

_FORM_BYTES = 64 * 1024
_MAX_TTL_DAYS = 3650
_PROFILE = "/ui/profile"
_USERS = "/ui/admin/users"
# What a redirect after a form may announce: fixed texts, never anything the request carried.
_NOTICES = {
    "revoked": "API token revoked.",
    "password": "Password changed. Your API tokens were revoked; this browser stays logged in.",
    "created": "User created.",
    "deleted": "User deleted.",
    "saved": "Saved.",
}


async def _form(request: Request) -> dict[str, str]:
    """The fields of an ``application/x-www-form-urlencoded`` body (first value of each)."""
    body = await request.body()
    if len(body) > _FORM_BYTES:
        raise InvalidArgumentError("form too large")
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {key: values[0] for key, values in fields.items()}


FormFields = Annotated[dict[str, str], Depends(_form)]


def _accounts_on(request: Request) -> ServerState:
    st = state(request)
    if not st.config.auth:
        raise InvalidArgumentError(
            "this server runs without authentication (OPSML_AUTH): there are no accounts"
        )
    return st


def _user(st: ServerState, username: str) -> UserRow:
    user = st.auth_store.get_user(validate_username(username))
    if user is None:
        raise CardNotFoundError(f"no user {username!r}")
    return user


def _notice(request: Request) -> str:
    return _NOTICES.get(request.query_params.get("done", ""), "")


def _grant_specs(grants: list[PermissionRow]) -> list[str]:
    return [
        f"{g.space}:{','.join(p for p in ('read', 'write', 'delete') if getattr(g, p))}"
        for g in grants
    ]


def _passwords(form: dict[str, str], first: str, second: str) -> str:
    password = form.get(first, "")
    if password != form.get(second, ""):
        raise InvalidArgumentError("the new passwords do not match")
    return password


def install_accounts(app: FastAPI, ui: _Ui) -> None:
    """Add the profile page and the admin pages (before ``/ui/{registry}``, which would
    take their paths).

    Args:
        app: The server app.
        ui: Renders the UI's pages.
    """
    _profile_routes(app, ui)
    _admin_routes(app, ui)


def _profile_routes(app: FastAPI, ui: _Ui) -> None:
    def profile(
        request: Request,
        user: Principal,
        status: int = 200,
        error: str = "",
        new_token: tuple[str, str] | None = None,
    ) -> HTMLResponse:
        st = _accounts_on(request)
        me = _user(st, user.username)
        local_login = st.config.oidc is None or st.config.oidc.local_login
        return ui.render(
            request,
            "profile.html",
            status,
            user=user,
            title="Profile",
            me=me,
            grants=st.auth_store.permissions(me.username),
            tokens=list(reversed(st.auth_store.list_api_tokens(me.username))),
            new_token=new_token,
            now=datetime.now(UTC),
            can_change_password=me.oidc_issuer is None and local_login,
            error=error,
            notice=_notice(request) if not error else "",
            crumbs=[("Spaces", "/"), ("profile", None)],
        )

    @app.get(_PROFILE, response_class=HTMLResponse, include_in_schema=False)
    @ui.page
    def profile_page(request: Request, user: Principal) -> Response:
        return profile(request, user)

    @app.post(_PROFILE + "/tokens", include_in_schema=False)
    @ui.page
    def create_token(request: Request, user: Principal, form: FormFields) -> Response:
        st = _accounts_on(request)
        name = form.get("name", "").strip()
        days = form.get("expires_days", "").strip()
        try:
            if days and not (days.isdigit() and 1 <= int(days) <= _MAX_TTL_DAYS):
                raise InvalidArgumentError(
                    f"the expiry is a whole number of days from 1 to {_MAX_TTL_DAYS} (empty: never)"
                )
            token, _row = st.security.create_api_token(
                user.username, name, int(days) if days else None
            )
        except InvalidArgumentError as exc:
            return profile(request, user, status_for(exc), str(exc))
        # Shown this once, on this page (no-store): only its digest is kept.
        return profile(request, user, 200, new_token=(name, token))

    @app.post(_PROFILE + "/tokens/revoke", include_in_schema=False)
    @ui.page
    def revoke(request: Request, user: Principal, form: FormFields) -> Response:
        _accounts_on(request)
        token_id = form.get("token_id", "")
        if not (len(token_id) == 16 and all(c in "0123456789abcdef" for c in token_id)):
            raise InvalidArgumentError("invalid API token id")
        revoke_token(state(request), user, token_id)
        return RedirectResponse(_PROFILE + "?done=revoked", status_code=303)

    @app.post(_PROFILE + "/password", include_in_schema=False)
    @ui.page
    def change_password(request: Request, user: Principal, form: FormFields) -> Response:
        st = _accounts_on(request)
        me = _user(st, user.username)
        try:
            if me.oidc_issuer is not None:
                raise InvalidArgumentError(
                    "you sign in with single sign-on: change your password at your identity "
                    "provider"
                )
            new = _passwords(form, "new_password", "new_password_again")
            LoginThrottle(st.auth_store, st.config).check_password(
                st.security, request, me.username, form.get("current_password", "")
            )
            st.security.reset_password(me.username, new)
        except (InvalidArgumentError, AuthenticationError, RateLimitError) as exc:
            message = str(exc)
            if isinstance(exc, AuthenticationError) and "invalid username" in message:
                message = "the current password is wrong"
            page = profile(request, user, status_for(exc), message)
            if isinstance(exc, RateLimitError) and exc.retry_after is not None:
                page.headers["Retry-After"] = str(exc.retry_after)
            return page
        # The reset revoked every token of the user, this browser's too: give it a new one.
        response = RedirectResponse(_PROFILE + "?done=password", status_code=303)
        ui.renew_session(request, response, me.username)
        return response


def _admin(request: Request, user: Principal) -> ServerState:
    """The server state, for an admin (the rest get 403, whatever they ask for)."""
    st = _accounts_on(request)
    user.require(Permission.Admin, None)
    return st


def _users_page(
    ui: _Ui, request: Request, user: Principal, status: int = 200, error: str = "", **form: Any
) -> HTMLResponse:
    st = _admin(request, user)
    rows = [(u, st.auth_store.permissions(u.username)) for u in st.auth_store.list_users()]
    return ui.render(
        request,
        "admin_users.html",
        status,
        user=user,
        title="Users",
        rows=rows,
        error=error,
        notice=_notice(request) if not error else "",
        form=form,
        crumbs=[("Spaces", "/"), ("users", None)],
    )


def _user_page(
    ui: _Ui, request: Request, user: Principal, username: str, status: int = 200, error: str = ""
) -> HTMLResponse:
    st = _admin(request, user)
    shown = _user(st, username)
    oidc = st.config.oidc
    return ui.render(
        request,
        "admin_user.html",
        status,
        user=user,
        title=f"User {shown.username}",
        shown=shown,
        grants=st.auth_store.permissions(shown.username),
        tokens=st.auth_store.list_api_tokens(shown.username),
        groups_claim=oidc.groups_claim if oidc is not None else "",
        error=error,
        notice=_notice(request) if not error else "",
        crumbs=[("Spaces", "/"), ("users", _USERS), (shown.username, None)],
    )


def _admin_routes(app: FastAPI, ui: _Ui) -> None:
    @app.get(_USERS, response_class=HTMLResponse, include_in_schema=False)
    @ui.page
    def users(request: Request, user: Principal) -> Response:
        return _users_page(ui, request, user)

    @app.post(_USERS, include_in_schema=False)
    @ui.page
    def create_user(request: Request, user: Principal, form: FormFields) -> Response:
        st = _admin(request, user)
        username = form.get("username", "").strip()
        is_admin = form.get("is_admin") == "yes"
        try:
            password = _passwords(form, "password", "password_again")
            grants = parse_grants(form.get("grants", "").split())
            st.security.create_user(username, password, is_admin, grants)
        except (InvalidArgumentError, AccountError) as exc:
            return _users_page(
                ui,
                request,
                user,
                status_for(exc),
                str(exc),
                username=username,
                grants=form.get("grants", ""),
                is_admin=is_admin,
            )
        return RedirectResponse(f"{_USERS}/{quote(username)}?done=created", status_code=303)

    @app.get(_USERS + "/{username}", response_class=HTMLResponse, include_in_schema=False)
    @ui.page
    def user_detail(request: Request, user: Principal, username: str) -> Response:
        return _user_page(ui, request, user, username)

    _user_routes(app, ui)


def _user_routes(app: FastAPI, ui: _Ui) -> None:
    def changed(request: Request, user: Principal, username: str, **change: Any) -> Response:
        """Apply a change by the API's rules; back to the user's page either way."""
        st = _admin(request, user)
        try:
            change_user(st, username, **change)
        except (InvalidArgumentError, AccountError) as exc:
            return _user_page(ui, request, user, username, status_for(exc), str(exc))
        return RedirectResponse(f"{_USERS}/{quote(username)}?done=saved", status_code=303)

    @app.post(_USERS + "/{username}/admin", include_in_schema=False)
    @ui.page
    def set_admin(request: Request, user: Principal, username: str, form: FormFields) -> Response:
        return changed(request, user, username, is_admin=form.get("is_admin") == "yes")

    @app.post(_USERS + "/{username}/permissions", include_in_schema=False)
    @ui.page
    def set_space(request: Request, user: Principal, username: str, form: FormFields) -> Response:
        st = _admin(request, user)
        space = form.get("space", "").strip().lower()
        perms = [p for p in ("read", "write", "delete") if form.get(p) == "yes"]
        try:
            if not perms:
                raise InvalidArgumentError(
                    "tick at least one permission (to take a space away, revoke it)"
                )
            kept = [g for g in st.auth_store.permissions(username) if g.space != space]
            grants = parse_grants([*_grant_specs(kept), f"{space}:{','.join(perms)}"])
        except InvalidArgumentError as exc:
            return _user_page(ui, request, user, username, status_for(exc), str(exc))
        return changed(request, user, username, grants=grants)

    @app.post(_USERS + "/{username}/revoke", include_in_schema=False)
    @ui.page
    def revoke_space(
        request: Request, user: Principal, username: str, form: FormFields
    ) -> Response:
        st = _admin(request, user)
        space = form.get("space", "")
        current = st.auth_store.permissions(_user(st, username).username)
        if space not in {g.space for g in current}:
            return _user_page(ui, request, user, username, 422, f"no permissions in {space!r}")
        return changed(request, user, username, grants=[g for g in current if g.space != space])

    @app.post(_USERS + "/{username}/delete", include_in_schema=False)
    @ui.page
    def delete_user(request: Request, user: Principal, username: str, form: FormFields) -> Response:
        st = _admin(request, user)
        shown = _user(st, username)
        try:
            if form.get("confirm") != "yes":
                raise InvalidArgumentError("tick the box to confirm the deletion")
            st.auth_store.delete_user(shown.username)
        except (InvalidArgumentError, AccountError) as exc:
            return _user_page(ui, request, user, username, status_for(exc), str(exc))
        return RedirectResponse(_USERS + "?done=deleted", status_code=303)
