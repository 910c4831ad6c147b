"""The profile page and the admin pages: every form, through one in-process app (auth on).

The app is shared by the module (each test makes its own users); each test logs in with
its own clients, which share the app but not their cookies.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from opsml.mock._server import empty_registry_database
from opsml.server import create_app
from opsml.server._config import ServerConfig
from opsml.server._security import parse_grants
from opsml.server._state import ServerState
from opsml.settings import OpsmlConfig
from opsml.store import PermissionRow

ADMIN = ("ada", "lovelace-1815")
ORIGIN = {"origin": "http://localhost"}
Login = Callable[..., TestClient]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    base = tmp_path_factory.mktemp("account-pages")
    empty_registry_database(base / "opsml.db")
    opsml = OpsmlConfig(
        tracking_uri=f"sqlite:///{(base / 'opsml.db').as_posix()}",
        storage_uri=str(base / "registries"),
    )
    built: FastAPI = create_app(
        # The request log on: the token test reads it.
        ServerConfig(opsml=opsml, auth=True, username=ADMIN[0], password=ADMIN[1], access_log=True)
    )
    return built


def _state(app: FastAPI) -> ServerState:
    st: ServerState = app.state.opsml
    return st


def _client(app: FastAPI) -> TestClient:
    # A browser sends Origin with every form post (SameOrigin refuses the rest).
    return TestClient(app, base_url="http://localhost", headers=ORIGIN)


@pytest.fixture
def login(app: FastAPI) -> Iterator[Login]:
    """``login(username, grants=(), password=...)``: a client logged in through the form,
    as ``ada`` (the first admin) or as a new local user with ``grants``."""
    clients: list[TestClient] = []

    def make(username: str, *grants: str, password: str = "password-123") -> TestClient:
        if username != ADMIN[0]:
            _state(app).security.create_user(username, password, False, _grants(grants))
        else:
            password = ADMIN[1]
        client = _client(app)
        response = client.post(
            "/ui/login",
            data={"username": username, "password": password, "next": "/"},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _grants(specs: tuple[str, ...]) -> list[PermissionRow]:
    return parse_grants(specs)


def _post(client: TestClient, url: str, **data: str) -> Any:
    return client.post(url, data=data, follow_redirects=False)


def _me(app: FastAPI, token: str) -> int:
    return (
        _client(app)
        .get("/opsml/api/auth/me", headers={"authorization": f"Bearer {token}"})
        .status_code
    )


def test_profile_shows_who_i_am_and_my_permissions(login: Login) -> None:
    reader = login("rita", "team-a:read", "shared:read,write")
    page = reader.get("/ui/profile")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    assert '<td id="username">rita</td>' in html
    assert "local password" in html
    assert ">team-a</a>" in html
    assert ">shared</a>" in html
    assert 'href="/ui/profile"' in reader.get("/").text, "the header links the profile"
    assert "/ui/admin/users" not in html, "no admin link for a non-admin"
    admin_home = login("ada").get("/").text
    assert 'href="/ui/admin/users"' in admin_home


def test_api_token_shown_once_works_and_is_revoked(
    app: FastAPI, login: Login, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tina = login("tina", "team-a:read")
    for bad, message in (
        ({"name": "", "expires_days": ""}, "1 to 128 characters"),
        ({"name": "ci", "expires_days": "0"}, "whole number of days"),
        ({"name": "ci", "expires_days": "x"}, "whole number of days"),
    ):
        refused = tina.post("/ui/profile/tokens", data=bad)
        assert refused.status_code == 422
        assert message in refused.text
    created = tina.post("/ui/profile/tokens", data={"name": "nightly", "expires_days": "30"})
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    found = re.search(r'<code id="new-token">(opsml_[0-9a-f]{16}_[^<]+)</code>', created.text)
    assert found, "the new token is on the page that created it"
    token = found.group(1)
    token_id = token.split("_")[1]
    listed = tina.get("/ui/profile").text
    assert token.rsplit("_", 1)[1] not in listed, "shown only once"
    assert f'data-token-id="{token_id}"' in listed
    assert "nightly" in listed
    assert _me(app, token) == 200
    revoked = _post(tina, "/ui/profile/tokens/revoke", token_id=token_id)
    assert revoked.status_code == 303
    assert revoked.headers["location"] == "/ui/profile?done=revoked"
    assert _me(app, token) == 401
    assert "API token revoked." in tina.get("/ui/profile?done=revoked").text
    secret = token.rsplit("_", 1)[1]
    assert "/ui/profile/tokens" in caplog.text, "the request log is on"
    assert secret not in caplog.text, "the token never reaches the log"
    audit = _state(app).auth_store.audit_entries(username="tina", limit=50)
    assert {"POST /ui/profile/tokens", "POST /ui/profile/tokens/revoke"} <= {
        a.operation for a in audit
    }
    assert not [a for a in audit if secret in f"{a.resource} {a.detail}"]


def test_a_user_cannot_revoke_another_users_token(app: FastAPI, login: Login) -> None:
    st = _state(app)
    owner_token, row = st.security.create_api_token(ADMIN[0], "admin-ci")
    mallory = login("mallory", "team-a:read")
    refused = _post(mallory, "/ui/profile/tokens/revoke", token_id=row.token_id)
    assert refused.status_code == 403
    assert "only an admin can revoke another user" in refused.text
    assert _me(app, owner_token) == 200
    unknown = _post(mallory, "/ui/profile/tokens/revoke", token_id="0" * 16)
    assert unknown.status_code == 404
    malformed = _post(mallory, "/ui/profile/tokens/revoke", token_id="'; drop table")
    assert malformed.status_code == 422
    cross_site = mallory.post(
        "/ui/profile/tokens", data={"name": "x"}, headers={"origin": "http://evil.example"}
    )
    assert cross_site.status_code == 403
    assert cross_site.json()["detail"] == "cross-site request refused (CSRF)"


def test_password_change(app: FastAPI, login: Login) -> None:
    paul = login("paul", password="old-password-1")
    ci_token, _ = _state(app).security.create_api_token("paul", "ci")
    url = "/ui/profile/password"
    cases = (
        ("old-password-1", "new-password-1", "new-password-2", 422, "do not match"),
        ("wrong-password", "new-password-1", "new-password-1", 401, "current password is wrong"),
        ("old-password-1", "short", "short", 422, "8 to 1024 characters"),
    )
    for current, new, again, status, message in cases:
        refused = paul.post(
            url,
            data={"current_password": current, "new_password": new, "new_password_again": again},
        )
        assert refused.status_code == status, refused.text
        assert message in refused.text
    changed = _post(
        paul,
        url,
        current_password="old-password-1",
        new_password="new-password-1",
        new_password_again="new-password-1",
    )
    assert changed.status_code == 303
    assert "opsml_token=" in changed.headers["set-cookie"]
    after = paul.get(changed.headers["location"])
    assert after.status_code == 200, "this browser stays logged in"
    assert "Password changed." in after.text
    assert _me(app, ci_token) == 401, "the same rule as the API: API tokens are revoked"
    relogin = _client(app)
    old = relogin.post("/ui/login", data={"username": "paul", "password": "old-password-1"})
    assert old.status_code == 401
    fresh = _post(relogin, "/ui/login", username="paul", password="new-password-1", next="/")
    assert fresh.status_code == 303
    failures = _state(app).auth_store.audit_entries(username="paul", outcome="denied")
    assert any(a.operation == f"POST {url}" for a in failures), "counted like a failed login"


def test_sso_users_see_their_provider_and_cannot_set_a_password(app: FastAPI) -> None:
    st = _state(app)
    st.auth_store.create_user("sso-sam", "!", False, ("https://idp.example", "sub-42"))
    sam = _client(app)
    sam.cookies.set("opsml_token", st.security.access_token("sso-sam"))
    page = sam.get("/ui/profile").text
    assert "https://idp.example" in page
    assert "sub-42" in page
    assert 'action="/ui/profile/password"' not in page
    assert "change your password at your identity provider" in page
    refused = sam.post(
        "/ui/profile/password",
        data={"current_password": "!", "new_password": "x" * 10, "new_password_again": "x" * 10},
    )
    assert refused.status_code == 422
    assert "single sign-on" in refused.text


ADMIN_POSTS = (
    ("/ui/admin/users", {"username": "eve2", "password": "p" * 10, "password_again": "p" * 10}),
    ("/ui/admin/users/ada/admin", {"is_admin": "no"}),
    ("/ui/admin/users/ada/permissions", {"space": "x", "read": "yes"}),
    ("/ui/admin/users/ada/revoke", {"space": "x"}),
    ("/ui/admin/users/ada/delete", {"confirm": "yes"}),
)


def test_non_admins_are_refused_on_every_admin_page(app: FastAPI, login: Login) -> None:
    eve = login("eve", "*:read,write,delete")
    epoch = _state(app).auth_store.epoch()
    for url in ("/ui/admin/users", "/ui/admin/users/ada"):
        page = eve.get(url)
        assert page.status_code == 403, url
        assert "lacks the admin permission" in page.text
    for url, data in ADMIN_POSTS:
        assert eve.post(url, data=data).status_code == 403, url
    assert _state(app).auth_store.get_user("eve2") is None
    assert _state(app).auth_store.epoch() == epoch, "nothing changed"
    anonymous = _client(app).post("/ui/admin/users/ada/delete", data={"confirm": "yes"})
    assert anonymous.status_code == 401
    assert _state(app).auth_store.get_user("ada") is not None


def test_admin_manages_users_and_permissions(app: FastAPI, login: Login) -> None:
    st = _state(app)
    ada = login("ada")
    url = "/ui/admin/users"
    new = {"username": "nora", "password": "nora-pass-1", "password_again": "nora-pass-1"}
    for data, status, message in (
        ({**new, "password_again": "nora-pass-2"}, 422, "do not match"),
        ({**new, "username": "-bad name"}, 422, "invalid username"),
        ({**new, "grants": "team-a:fly"}, 422, "permissions are read, write and delete"),
        ({**new, "username": "ada"}, 409, "already exists"),
    ):
        refused = ada.post(url, data=data)
        assert refused.status_code == status, refused.text
        assert message in refused.text
    created = _post(ada, url, **new, grants="team-a:read")
    assert created.headers["location"] == "/ui/admin/users/nora?done=created"
    assert "nora" in ada.get(url).text
    assert ada.get("/ui/admin/users/nobody").status_code == 404

    user_url = "/ui/admin/users/nora"
    epoch = st.auth_store.epoch()
    granted = _post(ada, f"{user_url}/permissions", space="Team-B", read="yes", write="yes")
    assert granted.status_code == 303
    assert [(g.space, g.read, g.write, g.delete) for g in st.auth_store.permissions("nora")] == [
        ("team-a", True, False, False),
        ("team-b", True, True, False),
    ]
    assert st.auth_store.epoch() != epoch, "tokens of nora are checked again at once"
    none_ticked = ada.post(f"{user_url}/permissions", data={"space": "team-c"})
    assert none_ticked.status_code == 422
    assert _post(ada, f"{user_url}/revoke", space="team-a").status_code == 303
    assert [g.space for g in st.auth_store.permissions("nora")] == ["team-b"]
    assert ada.post(f"{user_url}/revoke", data={"space": "team-z"}).status_code == 422

    last = ada.post("/ui/admin/users/ada/admin", data={"is_admin": "no"})
    assert last.status_code == 409
    assert "last admin" in last.text
    assert _post(ada, f"{user_url}/admin", is_admin="yes").status_code == 303
    assert st.auth_store.get_user("nora").is_admin  # type: ignore[union-attr]
    assert _post(ada, f"{user_url}/admin", is_admin="no").status_code == 303

    unconfirmed = ada.post(f"{user_url}/delete", data={})
    assert unconfirmed.status_code == 422
    deleted = _post(ada, f"{user_url}/delete", confirm="yes")
    assert deleted.headers["location"] == "/ui/admin/users?done=deleted"
    assert st.auth_store.get_user("nora") is None
    assert ada.post("/ui/admin/users/ada/delete", data={"confirm": "yes"}).status_code == 409
    operations = {a.operation for a in st.auth_store.audit_entries(username="ada", limit=100)}
    assert "POST /ui/admin/users/{username}/permissions" in operations


def test_without_authentication_there_are_no_accounts(sqlite_registry_env: Path) -> None:
    client = TestClient(create_app(), base_url="http://localhost")
    page = client.get("/ui/profile")
    assert page.status_code == 422
    assert "without authentication" in page.text
    assert 'href="/ui/profile"' not in client.get("/").text
