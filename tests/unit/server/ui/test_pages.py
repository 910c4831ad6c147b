"""The UI's pages through the app in-process: escaping, verified files, login cookies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opsml import CardRegistry, Prompt, PromptCard, RegistryType
from opsml.server import create_app
from opsml.server._config import ServerConfig
from opsml.settings import OpsmlConfig

HTML = {"accept": "text/html"}


@pytest.fixture
def prompt_uid(sqlite_registry_env: Path) -> str:
    card = PromptCard(
        prompt=Prompt(message="Say <b>hi</b> to ${name}"),
        space="team",
        name="hello",
        tags=["<script>alert(1)</script>", "stage:dev"],
    )
    CardRegistry(RegistryType.Prompt).register_card(card)
    return str(card.uid)


@pytest.fixture
def client(prompt_uid: str) -> TestClient:
    return TestClient(create_app(), base_url="http://localhost")


def test_user_text_is_escaped(client: TestClient, prompt_uid: str) -> None:
    for url in ("/ui/prompt", f"/ui/prompt/{prompt_uid}"):
        page = client.get(url).text
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    card = client.get(f"/ui/prompt/{prompt_uid}").text
    assert "Say &lt;b&gt;hi&lt;/b&gt; to ${name}" in card


def test_pages_forbid_outside_resources(client: TestClient) -> None:
    response = client.get("/")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert not re.search(r"(src|href)=['\"]https?://", response.text), "no CDN or remote asset"
    css = client.get("/ui/static/opsml.css")
    assert css.status_code == 200
    assert "text/css" in css.headers["content-type"]


def test_search_filters_and_reports_bad_queries(client: TestClient) -> None:
    found = client.get("/ui/prompt", params={"tag": "stage:dev", "version": "0.*"})
    assert "hello" in found.text
    assert "No cards match." in client.get("/ui/prompt", params={"tag": "stage:prod"}).text
    bad = client.get("/ui/prompt", params={"version": ">=1,<"})
    assert bad.status_code == 200
    assert 'role="alert"' in bad.text
    home_search = client.get(
        "/ui/search", params={"registry": "prompt", "name": "hello"}, follow_redirects=False
    )
    assert home_search.headers["location"] == "/ui/prompt?name=hello"


def test_unknown_cards_and_files_are_404_pages(client: TestClient, prompt_uid: str) -> None:
    missing = client.get("/ui/prompt/01900000-0000-7000-8000-000000000000")
    assert missing.status_code == 404
    assert "CardNotFoundError" in missing.text
    assert "Traceback" not in missing.text
    for path in ("card.json", "../../opsml.db", "..%2F..%2Fopsml.db"):
        response = client.get(f"/ui/prompt/{prompt_uid}/raw/{path}")
        assert response.status_code == 404, path
    assert client.get("/ui/nope").status_code == 422


def test_tampered_files_are_refused(sqlite_registry_env: Path) -> None:
    import pandas as pd

    from opsml import DataCard, PandasData

    card = DataCard(interface=PandasData(data=pd.DataFrame({"a": [1, 2]})), space="s", name="d")
    card.create_data_profile()
    CardRegistry("data").register_card(card)
    client = TestClient(create_app(), base_url="http://localhost")
    assert client.get(f"/ui/data/{card.uid}/files/data-profile.json").status_code == 200
    stored = next(sqlite_registry_env.rglob("data-profile.json"))
    stored.write_text(stored.read_text().replace("1", "2"))
    for url in (
        f"/ui/data/{card.uid}/files/data-profile.json",
        f"/ui/data/{card.uid}/raw/data-profile.json?download=1",
    ):
        response = client.get(url)
        assert response.status_code == 422, url
        assert "IntegrityError" in response.text
    assert client.get(f"/ui/data/{card.uid}").status_code == 422


def test_download_streams_the_verified_file(client: TestClient, sqlite_registry_env: Path) -> None:
    import pandas as pd

    from opsml import DataCard, PandasData

    card = DataCard(interface=PandasData(data=pd.DataFrame({"a": [1, 2]})), space="s", name="d")
    CardRegistry("data").register_card(card)
    response = client.get(f"/ui/data/{card.uid}/raw/data.parquet?download=1")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == "attachment; filename*=UTF-8''data.parquet"
    assert response.content == next(sqlite_registry_env.rglob("data.parquet")).read_bytes()
    assert "sandbox" in response.headers["content-security-policy"]


@pytest.fixture
def auth_client(sqlite_registry_env: Path, sqlite_url: str) -> TestClient:
    config = ServerConfig(
        opsml=OpsmlConfig.from_env(),
        auth=True,
        username="ada",
        password="lovelace-1815",
    )
    # A browser sends Origin with every form post; the server refuses cross-site ones.
    return TestClient(
        create_app(config), base_url="http://localhost", headers={"origin": "http://localhost"}
    )


def test_pages_need_a_login(auth_client: TestClient) -> None:
    browser = auth_client.get("/ui/data?space=x", headers=HTML, follow_redirects=False)
    assert browser.status_code == 303
    assert browser.headers["location"] == "/ui/login?next=%2Fui%2Fdata%3Fspace%3Dx"
    plain = auth_client.get("/ui/data")
    assert plain.status_code == 401
    assert "Log in" in plain.text
    assert auth_client.get("/ui/static/opsml.css").status_code == 200


def test_login_sets_a_strict_http_only_cookie(auth_client: TestClient) -> None:
    wrong = auth_client.post("/ui/login", data={"username": "ada", "password": "x", "next": "/"})
    assert "invalid username or password" in wrong.text
    assert "opsml_token" not in wrong.cookies
    response = auth_client.post(
        "/ui/login",
        data={"username": "ada", "password": "lovelace-1815", "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/", "only same-site redirects"
    cookie = response.headers["set-cookie"]
    assert "opsml_token=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert auth_client.get("/").status_code == 200
    logout = auth_client.post("/ui/logout", follow_redirects=False)
    assert logout.headers["location"] == "/ui/login"
    assert 'opsml_token=""' in logout.headers["set-cookie"]
    assert auth_client.get("/").status_code == 401


def test_cross_site_form_posts_are_refused(auth_client: TestClient) -> None:
    for origin in ("http://evil.example", ""):
        response = auth_client.post(
            "/ui/login",
            data={"username": "ada", "password": "lovelace-1815", "next": "/"},
            headers={"origin": origin},
            follow_redirects=False,
        )
        assert response.status_code == 403
        assert response.json()["detail"] == "cross-site request refused (CSRF)"
        assert "set-cookie" not in response.headers
