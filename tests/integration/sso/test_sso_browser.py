"""The whole single sign-on login in a browser (Playwright driving the distribution's headless
Chromium) against a real opsml server process and a real OpenID Connect provider, with key
rotation at the provider; afterwards no code, token or secret is in the server's log, its
audit log or an answer."""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from _provider import CLIENT_ID, GROUP_GRANTS, Provider
from playwright.sync_api import Browser, Page

from opsml.client._api import ApiClient
from opsml.client._credentials import CredentialStore, StoredTokens
from opsml.client._login import device_login
from opsml.mock import OpsmlTestServer

pytestmark = pytest.mark.e2e
ROOT_LOGIN = {"username": "root", "password": "root-password-1"}


@dataclass(frozen=True)
class Server:
    url: str
    log: Path


@pytest.fixture(scope="module")
def server(provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("sso-server")
    running = OpsmlTestServer(
        base_path=base,
        env={
            "OPSML_AUTH": "true",
            "OPSML_DEFAULT_USERNAME": ROOT_LOGIN["username"],
            "OPSML_DEFAULT_PASSWORD": ROOT_LOGIN["password"],
            "OPSML_OIDC_ISSUER": provider.issuer,
            "OPSML_OIDC_CLIENT_ID": CLIENT_ID,
            "OPSML_OIDC_CLIENT_SECRET": provider.client_secret,
            "OPSML_OIDC_SCOPES": "openid profile email groups",
            "OPSML_OIDC_GROUPS_CLAIM": "groups",
            "OPSML_OIDC_GROUP_GRANTS": GROUP_GRANTS,
        },
    )
    running.start_server()
    provider.redirect_uris = [f"{running.server_uri}/ui/oidc/callback"]
    provider.reload()
    try:
        yield Server(running.server_uri, base / "server.log")
    finally:
        running.stop_server()


def browser_login(page: Page, server: str, login: str) -> dict[str, str]:
    """Open a page, follow the login to the provider and back; return the callback's
    query (``code``, ``state``) as the browser sent it."""
    seen: dict[str, str] = {}

    def remember(request: object) -> None:
        url = str(getattr(request, "url", ""))
        if "/ui/oidc/callback" in url:
            seen.update({k: v[0] for k, v in parse_qs(urlsplit(url).query).items()})

    page.on("request", remember)
    page.goto(f"{server}/ui/prompt")
    assert "/ui/login" in page.url
    page.click("#sso-login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any-password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/ui/prompt")
    return seen


def test_browser_login_with_key_rotation_leaks_nothing(
    server: Server, provider: Provider, browser: Browser
) -> None:
    url = server.url
    context = browser.new_context()
    page = context.new_page()
    first = browser_login(page, url, "carol")
    assert first["code"]
    assert first["state"]
    assert page.locator("header").inner_text().count("carol") == 1
    cookies = {c["name"]: c["value"] for c in context.cookies()}
    session = cookies["opsml_token"]
    assert "opsml_oidc" not in cookies  # the login cookie is gone once used
    me = httpx.get(f"{url}/opsml/api/auth/me", headers={"authorization": f"Bearer {session}"})
    assert me.json()["grants"] == [{"space": "*", "read": True, "write": False, "delete": False}]
    context.close()

    # The provider rotates its signing key: the next login's ID token names a key id the
    # server has not seen, and the server fetches the provider's keys again.
    old = provider.keys[0]
    provider.rotate("k-rotated")
    try:
        context = browser.new_context()
        second = browser_login(context.new_page(), url, "alice")
        alice = {c["name"]: c["value"] for c in context.cookies()}["opsml_token"]
        context.close()
    finally:
        provider.keys = [*provider.keys, old]
        provider.reload()
    me = httpx.get(f"{url}/opsml/api/auth/me", headers={"authorization": f"Bearer {alice}"})
    assert me.json()["is_admin"] is True

    # Nothing secret in the server's log, its audit log or an error answer.
    token = httpx.post(f"{url}/opsml/api/auth/token", json=ROOT_LOGIN).json()["access_token"]
    replay = httpx.get(f"{url}/ui/oidc/callback", params=first)
    assert replay.status_code == 401
    audit = httpx.get(
        f"{url}/opsml/api/audit",
        params={"limit": 1000},
        headers={"authorization": f"Bearer {token}"},
    ).text
    log = server.log.read_text(errors="replace")
    secrets = {
        "code": first["code"],
        "second code": second["code"],
        "state": first["state"],
        "client secret": provider.client_secret,
        "session": session,
        "admin session": alice,
    }
    for name, value in secrets.items():
        assert value not in log, name
        assert value not in audit, name
        assert value not in replay.text, name
    assert "/ui/oidc/callback?code=[redacted]&state=[redacted]" in log


def test_device_login_stores_tokens_that_refresh(
    server: Server, browser: Browser, tmp_path: Path
) -> None:
    """``opsml login``'s flow: the server starts the provider's device login, the user
    confirms the code in a browser, the client stores the token pair (mode 0600) and
    refreshes it when the access token no longer works."""
    store = CredentialStore(tmp_path / "config" / "opsml" / "credentials.json")
    shown: list[dict[str, Any]] = []
    result: dict[str, Any] = {}

    def run() -> None:
        api = ApiClient(server.url)
        try:
            result["user"] = device_login(api, store, shown.append, sleep=lambda _: time.sleep(0.2))
        except Exception as exc:  # reported by the assertion below
            result["error"] = exc
        finally:
            api.close()

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 20
    while not shown and time.monotonic() < deadline:
        time.sleep(0.05)
    assert shown, result
    assert shown[0]["user_code"]
    assert "device_code" not in shown[0]
    context = browser.new_context()
    page = context.new_page()
    page.goto(shown[0]["verification_uri_complete"])
    page.click("button[type=submit]")  # confirm the code
    page.fill("input[name=login]", "bob")
    page.fill("input[name=password]", "any-password")
    page.click("button[type=submit]")
    worker.join(timeout=30)
    context.close()
    assert result.get("user") == "bob", result
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    stored = store.load(server.url)
    assert stored is not None

    # A stale access token: the client refreshes the pair once and writes it back.
    store.save(server.url, StoredTokens("not-a-valid-token", stored.refresh_token))
    api = ApiClient(server.url, credentials=store)
    try:
        assert api.json("GET", "/opsml/api/auth/me")["username"] == "bob"
    finally:
        api.close()
    renewed = store.load(server.url)
    assert renewed is not None
    assert renewed.refresh_token != stored.refresh_token
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    log = server.log.read_text(errors="replace")
    for value in (stored.access_token, stored.refresh_token, renewed.access_token):
        assert value not in log
