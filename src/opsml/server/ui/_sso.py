"""Single sign-on in the browser: the OpenID Connect authorization code flow with PKCE.

``GET /ui/oidc/login`` starts a login: fresh ``state``, ``nonce`` and PKCE verifier go into
a signed, HTTP-only cookie valid for ten minutes (``SameSite=Lax``: it has to come back with
the provider's redirect), and the browser goes to the provider. ``GET /ui/oidc/callback``
checks the cookie's ``state`` against the callback's, exchanges the code (with the
verifier) for the ID token, validates it (:class:`~opsml.server._oidc.OidcClient`), finds
or creates the user and logs the browser in with the UI's usual session cookie.

The page the callback answers with moves on to the target by itself (a ``meta`` refresh):
the session cookie is ``SameSite=Strict``, and a browser would not send it along a redirect
that started at the provider's site.
"""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from opsml.errors import AccountError, AuthenticationError, ServerUnavailableError
from opsml.server._oidc import open_login_state, provision_user, seal_login_state
from opsml.server._state import ServerState, state

__all__ = ["LOGIN_COOKIE", "install_sso"]

LOGIN_COOKIE = "opsml_oidc"
_LOGIN_PATH = "/ui/oidc"
_LOGIN_SECONDS = 600


class _Pages(Protocol):
    def render(
        self, request: Request, template: str, status: int = 200, user: Any = None, **context: Any
    ) -> HTMLResponse: ...


def _safe_next(value: str) -> str:
    if value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


def _redirect_uri(request: Request, st: ServerState) -> str:
    assert st.config.oidc is not None
    return st.config.oidc.redirect_url or f"{str(request.base_url).rstrip('/')}/ui/oidc/callback"


def _secrets(st: ServerState) -> list[str]:
    return [s.strip() for s in st.config.token_secret.split(",") if s.strip()]


def install_sso(app: FastAPI, ui: _Pages) -> None:
    """Add the single sign-on routes (they answer 404 when no provider is configured).

    Args:
        app: The server app.
        ui: Renders the UI's pages.
    """

    def failed(request: Request, exc: Exception, target: str = "/") -> HTMLResponse:
        status = 503 if isinstance(exc, ServerUnavailableError) else 401
        # The login cookie stays: a forged callback cannot cancel the browser's real login.
        return ui.render(request, "login.html", status, title="Log in", error=str(exc), next=target)

    @app.get("/ui/oidc/login", include_in_schema=False)
    def sso_login(request: Request) -> Response:
        st = state(request)
        if st.oidc is None:
            return RedirectResponse("/ui/login", status_code=303)
        target = _safe_next(request.query_params.get("next", "/"))
        try:
            start = st.oidc.start_login(_redirect_uri(request, st))
        except ServerUnavailableError as exc:
            return failed(request, exc, target)
        response = RedirectResponse(start.url, status_code=303)
        response.set_cookie(
            LOGIN_COOKIE,
            seal_login_state(start, target, _secrets(st)[0]),
            max_age=_LOGIN_SECONDS,
            path=_LOGIN_PATH,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response

    @app.get("/ui/oidc/callback", include_in_schema=False)
    def sso_callback(request: Request) -> Response:
        st = state(request)
        if st.oidc is None or st.config.oidc is None:
            return RedirectResponse("/ui/login", status_code=303)
        code = request.query_params.get("code", "")
        error = request.query_params.get("error", "")
        try:
            if error:
                # Only the OAuth error code: the description is the provider's free text.
                shown = error if error.replace("_", "").isalpha() and len(error) < 64 else "error"
                raise AuthenticationError(f"the provider refused the login ({shown})")
            login = open_login_state(
                request.cookies.get(LOGIN_COOKIE, ""),
                request.query_params.get("state", ""),
                _secrets(st),
            )
            if not code:
                raise AuthenticationError("the provider sent no authorization code")
            claims = st.oidc.finish_login(
                code, str(login["verifier"]), str(login["nonce"]), _redirect_uri(request, st)
            )
            username = provision_user(st.auth_store, st.config.oidc, claims)
            principal = st.security.principal(username)
        except (AuthenticationError, AccountError, ServerUnavailableError) as exc:
            return failed(request, exc)
        request.state.principal = principal
        target = _safe_next(str(login.get("next", "/")))
        # Rendering for ``user`` sets the UI's session cookie: the browser is logged in.
        page = ui.render(
            request, "signed_in.html", 200, user=principal, title="Signed in", next=target
        )
        page.delete_cookie(LOGIN_COOKIE, path=_LOGIN_PATH, httponly=True, samesite="lax")
        return page
