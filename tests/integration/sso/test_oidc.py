"""Single sign-on against a real OpenID Connect provider (oidc-provider on loopback): ID
token validation with the provider's own keys, the code flow with PKCE through the app,
users and permissions from the provider's groups, and every route's permission check for
a single sign-on user."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from _provider import CLIENT_ID, GROUP_GRANTS, ROOT, Provider, provider_login, rsa_jwk
from fastapi import FastAPI
from fastapi.testclient import TestClient

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.errors import AuthenticationError, InvalidArgumentError
from opsml.server import create_app
from opsml.server._authz import Scope, declared_access
from opsml.server._config import OidcConfig, ServerConfig
from opsml.server._oidc import OidcClient

sys.path.insert(0, str(ROOT / "tests" / "unit" / "server"))
from test_authz import _api_routes, _url

BASE = "http://localhost"
CALLBACK = f"{BASE}/ui/oidc/callback"


class CountingTransport(httpx.HTTPTransport):
    """Counts the key set fetches."""

    def __init__(self) -> None:
        super().__init__()
        self.jwks_fetches = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/jwks":
            self.jwks_fetches += 1
        return super().handle_request(request)


@pytest.fixture(scope="module")
def env(provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("sso-app")
    return {
        "OPSML_TRACKING_URI": f"sqlite:///{base / 'opsml.db'}",
        "OPSML_STORAGE_URI": str(base / "registries"),
        "OPSML_AUTH": "true",
        "OPSML_DEFAULT_USERNAME": "root",
        "OPSML_DEFAULT_PASSWORD": "root-password-1",
        "OPSML_OIDC_ISSUER": provider.issuer,
        "OPSML_OIDC_CLIENT_ID": CLIENT_ID,
        "OPSML_OIDC_CLIENT_SECRET": provider.client_secret,
        "OPSML_OIDC_SCOPES": "openid profile email groups",
        "OPSML_OIDC_GROUPS_CLAIM": "groups",
        "OPSML_OIDC_GROUP_GRANTS": GROUP_GRANTS,
    }


@pytest.fixture(scope="module")
def secret_uid(env: dict[str, str]) -> str:
    """A card in space ``secret``, which no single sign-on user's groups grant."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("OPSML_TRACKING_URI", "OPSML_STORAGE_URI"):
            patch.setenv(name, env[name])
        card = PromptCard(prompt=Prompt(message="classified"), space="secret", name="plan")
        CardRegistry(RegistryType.Prompt).register_card(card)
    return str(card.uid)


@pytest.fixture(scope="module")
def app(env: dict[str, str], secret_uid: str) -> FastAPI:
    return create_app(ServerConfig.from_env(env))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE) as http:
        yield http


@pytest.fixture
def transport() -> CountingTransport:
    return CountingTransport()


@pytest.fixture
def oidc(provider: Provider, transport: CountingTransport) -> Iterator[OidcClient]:
    config = OidcConfig(issuer=provider.issuer, client_id=CLIENT_ID)
    validator = OidcClient(config, transport=transport, forced_refresh_seconds=60)
    yield validator
    validator.close()


def sso_login(client: TestClient, login: str, target: str = "/") -> Any:
    """The browser's login as ``login``: opsml's start page, the provider, the callback."""
    start = client.get("/ui/oidc/login", params={"next": target}, follow_redirects=False)
    assert start.status_code == 303, start.text
    callback = provider_login(start.headers["location"], login, CALLBACK)
    return client.get(callback.removeprefix(BASE), follow_redirects=False)


# -- ID token validation with the provider's keys ----------------------------------------------


def test_valid_token_and_every_kind_of_bad_one(provider: Provider, oidc: OidcClient) -> None:
    claims = oidc.validate_id_token(provider.sign({"sub": "s-1", "nonce": "n-1"}), "n-1")
    assert claims["sub"] == "s-1"
    header, payload, signature = provider.sign({"sub": "s-1", "nonce": "n-1"}).split(".")
    forged = json.loads(jwt.utils.base64url_decode(payload))
    forged["sub"] = "admin"
    tampered = ".".join(
        [header, jwt.utils.base64url_encode(json.dumps(forged).encode()).decode(), signature]
    )
    now = int(time.time())
    cases = {
        "signature does not verify": tampered,
        "another client": provider.sign({"sub": "s-1", "nonce": "n-1", "aud": "someone-else"}),
        "expired": provider.sign(
            {"sub": "s-1", "nonce": "n-1", "iat": now - 900, "exp": now - 300}
        ),
        "another issuer": provider.sign({"sub": "s-1", "nonce": "n-1", "iss": "http://evil"}),
        "nonce": provider.sign({"sub": "s-1", "nonce": "another-login"}),
        "key the provider lacks": provider.sign({"sub": "s-1", "nonce": "n-1"}, rsa_jwk("k-evil")),
        "algorithm 'HS256'": jwt.encode(
            {"iss": provider.issuer, "aud": CLIENT_ID, "sub": "s", "exp": now + 60, "iat": now},
            "a-shared-secret-that-is-long-enough-for-hs256",
            algorithm="HS256",
            headers={"kid": "k1"},
        ),
        "algorithm 'none'": jwt.encode(
            {"iss": provider.issuer, "aud": CLIENT_ID, "sub": "s", "exp": now + 60},
            None,
            algorithm="none",
        ),
        "for another client": provider.sign({"sub": "s", "nonce": "n-1", "aud": [CLIENT_ID, "x"]}),
    }
    for reason, token in cases.items():
        with pytest.raises(AuthenticationError, match=reason.split(" (")[0]) as raised:
            oidc.validate_id_token(token, "n-1")
        assert token not in str(raised.value)


def test_keys_refetched_once_when_the_provider_rotates(
    provider: Provider, oidc: OidcClient, transport: CountingTransport
) -> None:
    old = provider.keys[0]
    oidc.validate_id_token(provider.sign({"sub": "s-1"}), None)
    assert transport.jwks_fetches == 1
    new = provider.rotate("k2")
    try:
        # A token signed with the new key: the cached set lacks "k2", so it is fetched again.
        assert oidc.validate_id_token(provider.sign({"sub": "s-2"}), None)["sub"] == "s-2"
        assert transport.jwks_fetches == 2
        # The old key is gone from the provider's set, so its tokens fail now.
        with pytest.raises(AuthenticationError, match="key the provider lacks"):
            oidc.validate_id_token(provider.sign({"sub": "s-1"}, old), None)
        # Unknown key ids do not make the server fetch the set on every token.
        for n in range(3):
            with pytest.raises(AuthenticationError):
                oidc.validate_id_token(provider.sign({"sub": "x"}, rsa_jwk(f"made-up-{n}")), None)
        assert transport.jwks_fetches == 2
    finally:
        provider.keys = [old, new]
        provider.reload()


def test_configuration_errors() -> None:
    base = {"OPSML_TRACKING_URI": "sqlite:///x.db", "OPSML_AUTH": "true"}
    bad = [
        ({"OPSML_OIDC_ISSUER": "http://idp.example.com"}, "https"),
        ({"OPSML_OIDC_ISSUER": "https://idp.example.com"}, "OPSML_OIDC_CLIENT_ID"),
        ({"OPSML_LOCAL_LOGIN": "false"}, "needs OPSML_OIDC_ISSUER"),
        (
            {
                "OPSML_OIDC_ISSUER": "https://idp.example.com",
                "OPSML_OIDC_CLIENT_ID": "c",
                "OPSML_OIDC_GROUP_GRANTS": "team=team:fly",
            },
            "permissions are read, write and delete",
        ),
    ]
    for extra, message in bad:
        with pytest.raises(InvalidArgumentError, match=message):
            ServerConfig.from_env({**base, **extra})
    config = ServerConfig.from_env(
        {**base, "OPSML_OIDC_ISSUER": "https://idp.example.com/", "OPSML_OIDC_CLIENT_ID": "c"}
    )
    assert config.oidc is not None
    assert config.oidc.issuer == "https://idp.example.com"


# -- the browser's login through the app ---------------------------------------------------------


def test_code_flow_creates_users_with_their_groups_permissions(
    client: TestClient, provider: Provider, env: dict[str, str]
) -> None:
    start = client.get("/ui/oidc/login", params={"next": "/ui/model"}, follow_redirects=False)
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"][0]
    assert query["nonce"][0]
    assert query["state"][0]
    assert query["redirect_uri"] == [CALLBACK]

    done = sso_login(client, "alice", "/ui/model")
    assert done.status_code == 200, done.text
    assert 'url=/ui/model"' in done.text
    assert "alice" in done.text
    me = client.get("/opsml/api/auth/me").json()  # the session cookie of the login
    assert me == {"username": "alice", "is_admin": True, "grants": []}

    client.cookies.clear()
    assert sso_login(client, "bob").status_code == 200
    me = client.get("/opsml/api/auth/me").json()
    assert me["username"] == "bob"
    assert not me["is_admin"]
    assert me["grants"] == [{"space": "team-a", "read": True, "write": True, "delete": False}]


def test_the_same_subject_is_the_same_user_and_names_never_collide(
    client: TestClient, provider: Provider
) -> None:
    # A local user named like the provider's user: single sign-on never takes it over.
    root = client.post(
        "/opsml/api/auth/token", json={"username": "root", "password": "root-password-1"}
    ).json()["access_token"]
    created = client.post(
        "/opsml/api/users",
        json={"username": "dave", "password": "password-123", "grants": ["*:read"]},
        headers={"authorization": f"Bearer {root}"},
    )
    assert created.status_code == 200, created.text
    assert sso_login(client, "dave").status_code == 200
    sso_dave = client.get("/opsml/api/auth/me").json()
    assert sso_dave["username"].startswith("dave-")
    assert sso_dave["grants"] == []
    client.cookies.clear()
    assert sso_login(client, "dave").status_code == 200
    assert client.get("/opsml/api/auth/me").json()["username"] == sso_dave["username"]
    # The provider's user has no password: a password login as them fails.
    client.cookies.clear()
    refused = client.post(
        "/opsml/api/auth/token", json={"username": sso_dave["username"], "password": "!"}
    )
    assert refused.status_code == 401


def test_callback_refuses_a_foreign_state_or_a_replayed_code(
    client: TestClient, provider: Provider
) -> None:
    start = client.get("/ui/oidc/login", follow_redirects=False)
    callback = provider_login(start.headers["location"], "carol", CALLBACK)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    # Another browser (no login cookie) cannot use the code.
    with TestClient(client.app, base_url=BASE) as other:
        stolen = other.get(callback.removeprefix(BASE))
    assert stolen.status_code == 401
    assert "start again" in stolen.text
    # A state that is not this browser's.
    forged = client.get("/ui/oidc/callback", params={"code": code, "state": "forged"})
    assert forged.status_code == 401
    assert "state" in forged.text
    assert client.get(callback.removeprefix(BASE)).status_code == 200  # the real one
    replay = client.get(callback.removeprefix(BASE))
    assert replay.status_code == 401
    for response in (stolen, forged, replay):
        assert code not in response.text
    denied = client.get("/ui/oidc/callback", params={"error": "access_denied", "state": "x"})
    assert denied.status_code == 401
    assert "access_denied" in denied.text


def test_every_route_checks_permissions_for_single_sign_on_users(
    client: TestClient, app: FastAPI, secret_uid: str
) -> None:
    """The unit suite's route audit (tests/unit/server/test_authz.py) with a single sign-on
    user whose groups map to nothing."""
    assert sso_login(client, "nobody-sso").status_code == 200
    me = client.get("/opsml/api/auth/me").json()
    assert me == {"username": "nobody-sso", "is_admin": False, "grants": []}
    session = client.cookies.get("opsml_token")
    client.cookies.clear()
    nobody = {"authorization": f"Bearer {session}"}
    body = {"card": {"space": "secret", "name": "plan"}, "uid": secret_uid}
    checked = 0
    for route in _api_routes(app):
        access = declared_access(route)
        assert access is not None
        if access.scope is Scope.Account:
            continue
        url = _url(route.path, secret_uid)
        for method in sorted(route.methods):
            kwargs = {"json": body} if method in ("POST", "PUT") else {}
            denied = client.request(method, url, headers=nobody, **kwargs)
            assert denied.status_code == 403, (method, url, denied.status_code, denied.text)
            checked += 1
    assert checked >= 15


def test_password_login_can_be_switched_off(env: dict[str, str], provider: Provider) -> None:
    app = create_app(ServerConfig.from_env({**env, "OPSML_LOCAL_LOGIN": "false"}))
    with TestClient(app, base_url=BASE) as http:
        refused = http.post(
            "/opsml/api/auth/token", json={"username": "root", "password": "root-password-1"}
        )
        assert refused.status_code == 401
        assert "single sign-on" in refused.json()["detail"]
        page = http.get("/ui/login")
        assert 'id="sso-login"' in page.text
        assert 'name="password"' not in page.text
