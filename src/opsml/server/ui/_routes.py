"""The web UI's routes: server-rendered pages (Jinja2) over the same local backend as the API.

Pages read without JavaScript; ``static/opsml.js`` only adds hover read-outs and series
toggles. Everything shipped lives in this package (templates and static files are package
data), so the UI works offline and needs no Node.js.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, quote, urlencode

import anyio
from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from opsml._validation import check_uid
from opsml.cards import validate_name
from opsml.errors import (
    AuthenticationError,
    CardNotFoundError,
    InvalidArgumentError,
    OpsmlError,
    RateLimitError,
)
from opsml.registry import LocalBackend, card_query, card_registry_type, record_fields
from opsml.server._authz import resolve_user
from opsml.server._errors import public_detail, request_id, status_for
from opsml.server._security import Permission, Principal
from opsml.server._state import ServerState, state
from opsml.server._throttle import LoginThrottle
from opsml.server.ui._accounts import install_accounts
from opsml.server.ui._compare import (
    COMPARE_LIMIT,
    compare_experiments,
    compare_models,
    compare_prompts,
    run_cells,
    split_names,
)
from opsml.server.ui._files import (
    PREVIEW_BYTES,
    file_kind,
    iter_file,
    media_type,
    open_verified,
    pretty_json,
    read_preview,
    render_markdown,
)
from opsml.server.ui._search import parse_search
from opsml.server.ui._sso import install_sso
from opsml.server.ui._views import card_context, natural_key, resolve_link
from opsml.store import CARD_REGISTRIES, CardQuery, card_names, card_page, space_summaries
from opsml.store._runs import RunsPage, SortKey, metric_names, parse_run_filter, runs_page
from opsml.types import RegistryType

__all__ = ["install_ui"]

PAGE_SIZE = 50
COOKIE = "opsml_token"

# Pages load nothing from elsewhere: no CDN, no remote images, no inline scripts.
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Raw artifact bytes are never a document that can run script on this origin.
_RAW_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


class LoginRequiredError(Exception):
    """A page was asked for without a valid login (auth is on)."""


def _filesize(value: Any) -> str:
    size = float(value or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    return str(value or "")[:19].replace("T", " ")


def _num(value: Any) -> str:
    """Four significant digits; thousands separators from 10 000 on (``123,457``)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        if 1e4 <= abs(value) < 1e15:
            return f"{value:,.0f}"
        return f"{value:.4g}"
    return "—" if value is None else str(value)


def _shape(value: Any) -> str:
    if not isinstance(value, list):
        return str(value)
    return "(" + ", ".join("?" if v is None else str(v) for v in value) + ")"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("opsml.server.ui", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        filesize=_filesize,
        when=_when,
        num=_num,
        shape=_shape,
        urlpath=lambda p: quote(str(p)),
    )
    return env


def _safe_next(value: str) -> str:
    """Only same-site paths: ``/…`` but not ``//host`` or ``/\\host``."""
    if value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


class _Ui:
    """What every page handler shares: templates, rendering, the login check."""

    def __init__(self) -> None:
        self.env = _environment()
        self.registries = [r.value for r in CARD_REGISTRIES]

    def render(
        self,
        request: Request,
        template: str,
        status: int = 200,
        user: Principal | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """Render a template into a response with the UI's security headers."""
        st = state(request)
        html = self.env.get_template(template).render(
            registries=self.registries,
            registry_types=CARD_REGISTRIES,
            user=user.username if user is not None else None,
            is_admin=user is not None and user.is_admin,
            auth=st.config.auth,
            sso=st.oidc is not None,
            local_login=st.config.oidc is None or st.config.oidc.local_login,
            crumbs=context.pop("crumbs", None),
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        if st.config.auth and user is not None and not user.unrestricted:
            # Sliding session: each page view renews the short-lived token.
            _set_cookie(request, response, st, st.security.access_token(user.username))
        return response

    def renew_session(self, request: Request, response: Response, username: str) -> None:
        """Give the browser a fresh session token (after its old ones were revoked)."""
        st = state(request)
        _set_cookie(request, response, st, st.security.access_token(username))

    def login_page(self, request: Request, error: str = "", status: int = 401) -> HTMLResponse:
        """The login form, sending the user back to the page they asked for."""
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        nxt = request.query_params.get("next") or target
        return self.render(
            request,
            "login.html",
            status,
            title="Log in",
            error=error,
            next=_safe_next("/" if nxt.startswith("/ui/login") else nxt),
        )

    def page(self, fn: Callable[..., Response]) -> Callable[..., Response]:
        """Run a page handler with the caller's login; domain errors become an HTML page."""

        @functools.wraps(fn)
        def wrapper(request: Request, *args: Any, **kwargs: Any) -> Response:
            try:
                user = resolve_user(request, request.headers.get("authorization"))
            except AuthenticationError as exc:
                raise LoginRequiredError from exc
            try:
                return fn(request, user, *args, **kwargs)
            except OpsmlError as exc:
                return self.render(
                    request,
                    "error.html",
                    status_for(exc),
                    user=user,
                    title="Not available",
                    error=type(exc).__name__,
                    detail=public_detail(exc, request_id(request.scope)),
                )

        # FastAPI reads the handler's parameters: ``user`` comes from the login, not the URL.
        signature = inspect.signature(fn)
        wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[p for p in signature.parameters.values() if p.name != "user"]
        )
        return wrapper


def _backend(request: Request) -> LocalBackend:
    st: ServerState = state(request)
    return st.backend


def install_ui(app: FastAPI) -> None:
    """Add the web UI (pages, login, static files) to the server app.

    Args:
        app: The app; its ``state.opsml`` is the :class:`ServerState`.
    """
    ui = _Ui()
    app.mount(
        "/ui/static", StaticFiles(directory=Path(__file__).parent / "static"), name="ui-static"
    )

    @app.exception_handler(LoginRequiredError)
    async def _login_required(request: Request, _exc: LoginRequiredError) -> Response:
        # A browser goes to the login form; any other client gets a plain 401.
        if "text/html" in request.headers.get("accept", ""):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/ui/login?{urlencode({'next': target})}", status_code=303)
        return ui.login_page(request)

    _auth_routes(app, ui)
    install_sso(app, ui)
    # Before /ui/{registry} and /ui/{registry}/{uid}, which would take these paths.
    install_accounts(app, ui)
    _experiment_routes(app, ui)
    _compare_routes(app, ui)
    _browse_routes(app, ui)
    _card_routes(app, ui)


def _auth_routes(app: FastAPI, ui: _Ui) -> None:
    @app.get("/ui/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request) -> Response:
        if not state(request).config.auth:
            return RedirectResponse("/", status_code=303)
        return ui.login_page(request, status=200)

    @app.post("/ui/login", include_in_schema=False)
    async def login_submit(request: Request) -> Response:
        st = state(request)
        if not st.config.auth:
            return RedirectResponse("/", status_code=303)
        form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
        username = (form.get("username") or [""])[0]
        password = (form.get("password") or [""])[0]
        target = _safe_next((form.get("next") or ["/"])[0])
        throttle = LoginThrottle(st.auth_store, st.config)
        try:
            pair = await anyio.to_thread.run_sync(
                throttle.login, st.security, request, username, password
            )
        except (AuthenticationError, RateLimitError) as exc:
            # 401/429, never 200: the audit log (the throttle's memory) must not see a success.
            status = 429 if isinstance(exc, RateLimitError) else 401
            page = ui.render(
                request, "login.html", status, title="Log in", error=str(exc), next=target
            )
            if isinstance(exc, RateLimitError) and exc.retry_after is not None:
                page.headers["Retry-After"] = str(exc.retry_after)
            return page
        response = RedirectResponse(target, status_code=303)
        _set_cookie(request, response, st, pair.access_token)
        return response

    @app.post("/ui/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        response = RedirectResponse(
            "/ui/login" if state(request).config.auth else "/", status_code=303
        )
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response


def _experiment_routes(app: FastAPI, ui: _Ui) -> None:
    @app.get("/ui/runs", response_class=HTMLResponse, include_in_schema=False)
    @ui.page
    def runs_table(
        request: Request,
        user: Principal,
        space: Annotated[str, Query(max_length=128)] = "",
        name: Annotated[str, Query(max_length=128)] = "",
        metrics: Annotated[str, Query(max_length=2000)] = "",
        params: Annotated[str, Query(max_length=2000)] = "",
        sort: Annotated[str, Query(max_length=300)] = "started",
        order: Annotated[str, Query(max_length=4)] = "desc",
        q: Annotated[str, Query(max_length=2000)] = "",
        after: Annotated[str | None, Query(max_length=2000)] = None,
    ) -> Response:
        space_name = card_query(space=space).space if space else None
        exp_name = card_query(name=name).name if name else None
        if space_name is not None:
            user.require(Permission.Read, space_name)
        readable = _readable(user)
        metric_columns = split_names(metrics)
        param_columns = split_names(params)
        choice = {
            "space": space_name or "",
            "name": exp_name or "",
            "metrics": ",".join(metric_columns),
            "params": ",".join(param_columns),
            "q": q.strip(),
        }
        store = _backend(request).store
        error, page, key = "", RunsPage([], None), SortKey()
        try:
            key = SortKey.parse(sort, order)
            if key.metric is not None and key.metric not in metric_columns:
                metric_columns.append(key.metric)
                choice["metrics"] = ",".join(metric_columns)
            page = runs_page(
                store,
                space=space_name,
                name=exp_name,
                spaces=readable,
                sort=key,
                run_filter=parse_run_filter(q),
                metrics=metric_columns,
                params=param_columns,
                after=after,
                limit=PAGE_SIZE,
            )
        except InvalidArgumentError as exc:
            error = str(exc)
        base = {k: v for k, v in choice.items() if v}

        def href(**extra: str) -> str:
            return "/ui/runs?" + urlencode({**base, **extra})

        def sort_href(token: str) -> str:
            flip = "asc" if key.token == token and not key.ascending else "desc"
            return href(sort=token, order=flip)

        crumbs: list[tuple[str, str | None]] = [("Spaces", "/")]
        if space_name:
            crumbs.append((space_name, f"/ui/spaces/{quote(space_name)}"))
        crumbs.append(("runs", None))
        title = "Runs" + (f" of {space_name}" if space_name else "")
        if exp_name:
            title = f"Runs of {space_name or '*'}/{exp_name}"
        return ui.render(
            request,
            "runs.html",
            user=user,
            title=title,
            registry="experiment",
            runs_nav=True,
            choice=choice,
            sort=key,
            error=error,
            rows=run_cells(page.runs, metric_columns),
            metric_columns=metric_columns,
            param_columns=param_columns,
            known_metrics=metric_names(store, space_name, readable),
            known_params=sorted(
                {n for r in page.runs for n in r.params} | set(_page_param_names(request, page)),
                key=natural_key,
            ),
            sort_href=sort_href,
            sort_state=lambda token: (
                ("ascending" if key.ascending else "descending") if key.token == token else None
            ),
            first_href=href(sort=key.token, order="asc" if key.ascending else "desc")
            if after
            else None,
            next_href=href(
                sort=key.token, order="asc" if key.ascending else "desc", after=page.next_cursor
            )
            if page.next_cursor
            else None,
            crumbs=crumbs,
        )


def _compare_routes(app: FastAPI, ui: _Ui) -> None:
    @app.get("/ui/compare/{registry}", response_class=HTMLResponse, include_in_schema=False)
    @ui.page
    def compare(
        request: Request,
        user: Principal,
        registry: str,
        uid: Annotated[list[str] | None, Query(max_length=COMPARE_LIMIT * 3)] = None,
        metric: Annotated[str, Query(max_length=200)] = "",
    ) -> Response:
        reg = card_registry_type(registry)
        if reg not in (RegistryType.Experiment, RegistryType.Model, RegistryType.Prompt):
            raise InvalidArgumentError("compare takes experiment, model or prompt cards")
        asked = list(dict.fromkeys(uid or []))
        if len(asked) > COMPARE_LIMIT:
            raise InvalidArgumentError(f"compare at most {COMPARE_LIMIT} cards at once")
        backend = _backend(request)
        readable = [c for c in asked if _may_read(request, user, reg, c)]
        links = [resolve_link(backend, reg, c) for c in readable]
        links = [link for link in links if link.found]
        left_out = len(asked) - len(links)
        if len(links) < 2:
            raise InvalidArgumentError(
                "pick at least two cards you may read to compare"
                + (
                    f" ({left_out} of those asked for are unknown or not readable)"
                    if left_out
                    else ""
                )
            )
        context: dict[str, Any]
        if reg is RegistryType.Experiment:
            context = compare_experiments(backend, links, metric)
        elif reg is RegistryType.Model:
            context = compare_models(backend, links, _readable(user))
        else:
            context = compare_prompts(backend, links)
        return ui.render(
            request,
            "compare.html",
            user=user,
            title=f"Compare {len(links)} {reg.value} cards",
            registry=reg.value,
            links=links,
            left_out=left_out,
            compare=context,
            crumbs=[("Spaces", "/"), (reg.value, f"/ui/{reg.value}"), ("compare", None)],
        )


def _page_param_names(request: Request, page: RunsPage) -> list[str]:
    """Parameter names of the first runs of a page (suggestions for the column box)."""
    names: list[str] = []
    for run in page.runs[:5]:
        names.extend(_backend(request).tracking.parameters(run.uid))
    return names


def _browse_routes(app: FastAPI, ui: _Ui) -> None:
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    @ui.page
    def home(request: Request, user: Principal, after: str | None = None) -> Response:
        after = validate_name(after, "space") if after else None
        readable = user.readable_spaces()
        spaces = [
            summary
            for summary in space_summaries(_backend(request).store, after or None, PAGE_SIZE + 1)
            if readable is None or summary.space in readable
        ]
        more = len(spaces) > PAGE_SIZE
        spaces = spaces[:PAGE_SIZE]
        return ui.render(
            request,
            "home.html",
            user=user,
            title="Spaces",
            spaces=spaces,
            next_after=spaces[-1].space if more else None,
        )

    @app.get("/ui", include_in_schema=False)
    def ui_root() -> RedirectResponse:
        return RedirectResponse("/", status_code=303)

    @app.get("/ui/search", include_in_schema=False)
    def search(request: Request, registry: str = "model") -> RedirectResponse:
        params = {k: v for k, v in request.query_params.items() if k != "registry" and v}
        name = registry if registry in ui.registries else "model"
        query = f"?{urlencode(params)}" if params else ""
        return RedirectResponse(f"/ui/{name}{query}", status_code=303)

    @app.get("/ui/spaces/{space}", response_class=HTMLResponse, include_in_schema=False)
    @ui.page
    def space_page(
        request: Request,
        user: Principal,
        space: str,
        registry: str | None = None,
        after: str | None = None,
    ) -> Response:
        name = card_query(space=space).space or ""
        after = validate_name(after, "name") if after else None
        user.require(Permission.Read, name)
        shown = [card_registry_type(registry)] if registry else list(CARD_REGISTRIES)
        store = _backend(request).store
        sections = [
            (r.value, card_names(store, r, name, after if registry else None, PAGE_SIZE))
            for r in shown
        ]
        return ui.render(
            request,
            "space.html",
            user=user,
            title=f"Space {name}",
            space=name,
            sections=sections,
            limit=PAGE_SIZE,
            crumbs=[("Spaces", "/"), (name, None)],
        )

    @app.get("/ui/{registry}", response_class=HTMLResponse, include_in_schema=False)
    @ui.page
    def registry_page(
        request: Request,
        user: Principal,
        registry: str,
        space: str = "",
        name: str = "",
        tag: str = "",
        version: str = "",
        q: Annotated[str, Query(max_length=500)] = "",
        after: Annotated[str | None, Query(max_length=64)] = None,
    ) -> Response:
        reg = card_registry_type(registry)
        filters = {"q": q, "space": space, "name": name, "tag": tag, "version": version}
        tags = [t.strip() for t in tag.split(",") if t.strip()]
        by_version = bool(space and name)
        # A malformed filter is shown next to the form (the page itself is fine).
        error, records = "", []
        try:
            search = parse_search(q)
            if search.version and version:
                raise InvalidArgumentError("a version query in the search box and the form")
            query = card_query(
                None,
                space or None,
                name or None,
                version or search.version or None,
                tags=tuple(tags + search.tags),
                sort_by_timestamp=not by_version,
                limit=PAGE_SIZE + 1,
                spaces=_readable(user),
            )
            cursor = check_uid(after, "after") if after else None
            rows = card_page(_backend(request).store, reg, query, cursor, search.contains)
            records = [record_fields(reg, row) for row in rows]  # the template reads fields
        except OpsmlError as exc:
            error = public_detail(exc, request_id(request.scope))
        base = {k: v for k, v in filters.items() if v}
        more = len(records) > PAGE_SIZE
        records = records[:PAGE_SIZE]
        crumbs: list[tuple[str, str | None]] = [("Spaces", "/")]
        if space and not error:
            crumbs.append((space.lower(), f"/ui/spaces/{quote(space.lower())}"))
        crumbs.append((reg.value, None))
        return ui.render(
            request,
            "registry.html",
            user=user,
            title=(f"{space}/{name}" if by_version else f"{reg.value} cards").lower(),
            registry=reg.value,
            filters=filters,
            records=records,
            error=error,
            order="Highest version first." if by_version else "Newest first.",
            first_href=f"/ui/{reg.value}?{urlencode(base)}" if after else None,
            next_href=(
                f"/ui/{reg.value}?{urlencode({**base, 'after': records[-1]['uid']})}"
                if more
                else None
            ),
            crumbs=crumbs,
        )


def _card_routes(app: FastAPI, ui: _Ui) -> None:
    @app.get("/ui/{registry}/{uid}", response_class=HTMLResponse, include_in_schema=False)
    @ui.page
    def card_page(
        request: Request,
        user: Principal,
        registry: str,
        uid: str,
        compare: Annotated[list[str] | None, Query(max_length=10)] = None,
        metric: Annotated[str, Query(max_length=200)] = "",
        scale: Literal["linear", "log"] = "linear",
        smooth: Annotated[float, Query(ge=0, le=0.99)] = 0.0,
    ) -> Response:
        reg = card_registry_type(registry)
        _require_read(request, user, reg, uid)
        others = [c for c in compare or [] if _may_read(request, user, reg, c)]
        context = card_context(
            _backend(request),
            reg,
            uid,
            others,
            metric,
            _readable(user),
            log_y=scale == "log",
            smoothing=smooth,
        )
        card = context["card"]
        space, name = card["space"], card["name"]
        return ui.render(
            request,
            "card.html",
            user=user,
            title=f"{space}/{name} v{card['version']}",
            crumbs=[
                ("Spaces", "/"),
                (space, f"/ui/spaces/{space}"),
                (reg.value, f"/ui/{reg.value}?space={space}"),
                (name, f"/ui/{reg.value}?space={space}&name={name}"),
                (f"v{card['version']}", None),
            ],
            **context,
        )

    @app.get(
        "/ui/{registry}/{uid}/files/{path:path}",
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    @ui.page
    def file_page(
        request: Request, user: Principal, registry: str, uid: str, path: str
    ) -> Response:
        reg = card_registry_type(registry)
        _require_read(request, user, reg, uid)
        backend = _backend(request)
        card = backend.load_card(reg, CardQuery(uid=uid, limit=1))
        kind = file_kind(path)
        text, truncated, html = "", False, None
        with ExitStack() as stack:
            local, size = open_verified(backend, reg, uid, path, stack)
            if kind in ("markdown", "json", "text"):
                text, truncated = read_preview(local)
        if kind == "json" and not truncated:
            text = pretty_json(text)
        if kind == "markdown":
            html = render_markdown(text)
        sha256 = card.manifest.files[path].sha256 if card.manifest else ""
        return ui.render(
            request,
            "file.html",
            user=user,
            title=path,
            registry=reg.value,
            uid=uid,
            path=path,
            kind=kind,
            size=size,
            sha256=sha256,
            text=text,
            html=html,
            truncated=truncated,
            preview_bytes=PREVIEW_BYTES,
            crumbs=[
                ("Spaces", "/"),
                (card.space, f"/ui/spaces/{card.space}"),
                (f"{card.name} v{card.version}", f"/ui/{reg.value}/{uid}#files"),
                (path, None),
            ],
        )

    @app.get("/ui/{registry}/{uid}/raw/{path:path}", include_in_schema=False)
    @ui.page
    def raw_file(
        request: Request,
        user: Principal,
        registry: str,
        uid: str,
        path: str,
        download: bool = False,
    ) -> Response:
        reg = card_registry_type(registry)
        _require_read(request, user, reg, uid)
        stack = ExitStack()
        try:
            local, size = open_verified(_backend(request), reg, uid, path, stack)
        except BaseException:
            stack.close()
            raise
        inline = not download and file_kind(path) == "image"
        filename = quote(path.rsplit("/", 1)[-1])
        return StreamingResponse(
            iter_file(local, stack),
            media_type=media_type(path) if inline else "application/octet-stream",
            headers={
                "Content-Length": str(size),
                "Content-Disposition": (
                    f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{filename}"
                ),
                "Content-Security-Policy": _RAW_CSP,
                "X-Content-Type-Options": "nosniff",
            },
        )


def _readable(user: Principal) -> tuple[str, ...] | None:
    spaces = user.readable_spaces()
    return None if spaces is None else tuple(sorted(spaces))


def _require_read(request: Request, user: Principal, registry: RegistryType, uid: str) -> None:
    """Raise unless ``user`` may read the card (404 for an unknown card, as before)."""
    try:
        check_uid(uid)  # before the database sees it
    except InvalidArgumentError:
        raise CardNotFoundError(f"no {registry.value} card with uid {uid!r}") from None
    user.require(Permission.Read, str(_backend(request).store.get(registry, uid).space))


def _may_read(request: Request, user: Principal, registry: RegistryType, uid: str) -> bool:
    try:
        _require_read(request, user, registry, uid)
    except OpsmlError:
        return False
    return True


def _set_cookie(request: Request, response: Response, st: ServerState, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=st.config.token_ttl_seconds,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
