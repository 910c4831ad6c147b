"""The web UI in a real browser: navigation, search, every card page, charts, file viewer,
download, login and logout, pages without JavaScript, accessibility (axe-core)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from playwright.sync_api import Page, expect

if TYPE_CHECKING:
    from tests.e2e.conftest import Console, Seeded

pytestmark = pytest.mark.e2e

Axe = Callable[[Page], list[dict[str, Any]]]
Shoot = Callable[[Page, str], Path]


def _open(page: Page, url: str, axe: Axe) -> None:
    response = page.goto(url)
    assert response is not None
    assert response.status == 200, f"{url} answered {response.status}"
    assert axe(page) == [], f"accessibility violations on {url}"


def test_navigation_from_spaces_to_a_card(
    page: Page, seeded: Seeded, axe: Axe, shoot: Shoot
) -> None:
    _open(page, seeded.url + "/", axe)
    shoot(page, "home")
    expect(page.get_by_role("heading", name="Spaces")).to_be_visible()
    page.get_by_role("link", name="team-a", exact=True).click()
    expect(page.get_by_role("heading", name="Space team-a")).to_be_visible()
    assert axe(page) == []
    shoot(page, "space")
    page.get_by_role("link", name="churn-model").click()
    expect(page.get_by_role("heading", name="team-a/churn-model")).to_be_visible()
    page.get_by_role("link", name="0.1.0").click()
    expect(page.get_by_role("heading", name="team-a/churn-model v0.1.0")).to_be_visible()
    assert axe(page) == []
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    crumbs.get_by_role("link", name="Spaces").click()
    expect(page).to_have_url(seeded.url + "/")


def test_keyboard_reaches_content_first(page: Page, seeded: Seeded, axe: Axe) -> None:
    _open(page, seeded.url + "/", axe)
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.textContent")
    assert focused == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"


def test_search_by_name_tag_and_version(page: Page, seeded: Seeded, axe: Axe, shoot: Shoot) -> None:
    _open(page, seeded.url + "/ui/data", axe)
    page.get_by_label("space").fill("team-a")
    page.get_by_label("name").fill("churn-data")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.results tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_label("tags").fill("stage:prod")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("0.2.0")
    page.get_by_label("tags").fill("")
    page.get_by_label("version").fill("0.1.*")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("0.1.0")
    shoot(page, "search")


def test_bad_version_query_is_explained(page: Page, seeded: Seeded, axe: Axe) -> None:
    _open(page, seeded.url + "/ui/data?version=%5E", axe)
    expect(page.get_by_role("alert")).to_contain_text("version")


def test_pagination(page: Page, seeded: Seeded, axe: Axe) -> None:
    _open(page, seeded.url + "/ui/prompt?space=bulk&name=greeting", axe)
    rows = page.locator("table.results tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text(f"0.{seeded.bulk}.0")
    page.get_by_role("link", name="Next page").click()
    expect(rows).to_have_count(seeded.bulk - 50)
    expect(rows.last).to_contain_text("0.1.0")
    expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    page.get_by_role("link", name="First page").click()
    expect(rows).to_have_count(50)


def test_model_page(page: Page, seeded: Seeded, axe: Axe, shoot: Shoot) -> None:
    _open(page, f"{seeded.url}/ui/model/{seeded.uids['model']}", axe)
    shoot(page, "model")
    model = page.locator("#model")
    expect(model).to_contain_text("SklearnModel")
    expect(model).to_contain_text("Classification")
    onnx = model.locator("table", has_text="Inputs and outputs")
    expect(onnx.locator("tbody tr")).to_have_count(3)
    # One row: sample data keeps the first row only, as in OpsML (docs/models.md).
    expect(model.get_by_role("region", name="Sample data").locator("tbody tr")).to_have_count(1)
    page.locator("#overview").get_by_role("link", name="team-a/churn-data v0.2.0").click()
    expect(page.get_by_role("heading", name="team-a/churn-data v0.2.0")).to_be_visible()


def test_data_page_draws_the_profile(page: Page, seeded: Seeded, axe: Axe, shoot: Shoot) -> None:
    _open(page, f"{seeded.url}/ui/data/{seeded.uids['data']}", axe)
    shoot(page, "data")
    expect(page.locator("table.profile tbody tr")).to_have_count(3)
    tenure = page.locator("figure.feature", has_text="tenure")
    expect(tenure.locator("svg rect.bar")).to_have_count(20)
    plan = page.locator("figure.feature", has_text="plan")
    expect(plan.locator("table tbody tr")).to_have_count(3)
    tenure.locator("rect.bar").first.hover()
    expect(tenure.locator(".chart-readout")).to_contain_text("[0,")


def test_prompt_page(page: Page, seeded: Seeded, axe: Axe) -> None:
    _open(page, f"{seeded.url}/ui/prompt/{seeded.uids['prompt']}", axe)
    section = page.locator("#prompt")
    expect(section.locator(".message.system")).to_contain_text("retention analyst")
    expect(section).to_contain_text("Summarise why ${customer} may churn.")
    expect(section).to_contain_text("gpt-4o")


def test_service_page_with_lineage(page: Page, seeded: Seeded, axe: Axe, shoot: Shoot) -> None:
    _open(page, f"{seeded.url}/ui/service/{seeded.uids['service']}", axe)
    shoot(page, "service")
    cards = page.locator("#cards tbody tr")
    expect(cards).to_have_count(2)
    expect(cards.first).to_contain_text("model")
    expect(cards.first).to_contain_text("0.1.0")
    graph = page.locator("#lineage svg.lineage")
    kinds = graph.locator("a.node text.kind").all_text_contents()
    assert sorted(kinds) == ["data", "experiment", "model", "prompt", "service"]
    graph.locator("a.node.data").click()
    expect(page.get_by_role("heading", name="team-a/churn-data v0.2.0")).to_be_visible()


def test_experiment_metric_chart(page: Page, seeded: Seeded, axe: Axe, shoot: Shoot) -> None:
    _open(page, f"{seeded.url}/ui/experiment/{seeded.uids['experiment']}", axe)
    chart = page.locator("figure.metric[data-metric='loss']")
    expect(chart.locator("circle.point")).to_have_count(seeded.metric_steps)
    expect(page.locator("#parameters")).to_contain_text("learning_rate")
    page.get_by_label("v0.1.0").check()
    page.get_by_role("button", name="Compare").click()
    expect(chart.locator("g.series")).to_have_count(2)
    expect(chart.locator("circle.point")).to_have_count(2 * seeded.metric_steps)
    shoot(page, "experiment")
    chart.get_by_role("button", name="v0.1.0").click()
    expect(chart.locator("g.series.hidden")).to_have_count(1)


def test_file_viewer(page: Page, seeded: Seeded, axe: Axe, shoot: Shoot) -> None:
    card = f"{seeded.url}/ui/data/{seeded.uids['docs']}"
    _open(page, card, axe)
    readme = page.locator("#overview article.markdown")
    expect(readme.get_by_role("heading", name="Churn notes")).to_be_visible()
    expect(readme).to_contain_text("<script>window.pwned = 1</script>")
    assert page.evaluate("() => window.pwned") is None, "README markup must not run"
    files = page.locator("#files")
    expect(files.get_by_role("group").first).to_be_visible()
    files.get_by_role("link", name="settings.yaml", exact=True).click()
    _open(page, page.url, axe)
    expect(page.locator("pre.code")).to_have_text(seeded.docs["conf/settings.yaml"].decode())
    page.goto(f"{card}/files/figures/plot.png")
    image = page.get_by_role("img", name="figures/plot.png")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") == 40
    page.goto(f"{card}/files/README.md")
    expect(page.locator("article.markdown strong")).to_have_text("March")
    shoot(page, "file-viewer")


def test_download(page: Page, seeded: Seeded, tmp_path: Path, axe: Axe) -> None:
    _open(page, f"{seeded.url}/ui/data/{seeded.uids['docs']}", axe)
    with page.expect_download() as info:
        page.get_by_role("link", name="Download README.md").click()
    download = info.value
    assert download.suggested_filename == "README.md"
    target = tmp_path / "README.md"
    download.save_as(target)
    assert target.read_bytes() == seeded.docs["README.md"]
    with page.expect_download() as info:
        page.get_by_role("link", name="Download figures/plot.png").click()
    saved = tmp_path / "plot.png"
    info.value.save_as(saved)
    assert saved.read_bytes() == seeded.docs["figures/plot.png"]


def test_pages_read_without_javascript(no_js_page: Page, seeded: Seeded) -> None:
    page = no_js_page
    page.goto(f"{seeded.url}/ui/data/{seeded.uids['data']}")
    expect(page.locator("figure.feature svg rect.bar").first).to_be_visible()
    expect(page.locator(".chart-readout")).to_have_count(0)
    page.goto(seeded.url + "/ui/data")
    page.get_by_label("name").fill("churn-docs")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table.results tbody tr")).to_have_count(1)


def test_login_and_logout(
    page: Page, auth_server: str, axe: Axe, shoot: Shoot, console: Console
) -> None:
    _open(page, auth_server + "/ui/data", axe)
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert axe(page) == []
    shoot(page, "login")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("invalid username or password")
    # The failed login answers 401 (so the audit log and the throttle count it), which the
    # browser reports on its console: that one line is expected, nothing else.
    assert [e for e in console.errors if "401 (Unauthorized)" in e and "/ui/login" in e]
    console.errors[:] = [e for e in console.errors if "/ui/login" not in e]
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("lovelace")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(auth_server + "/ui/data")
    expect(page.get_by_role("heading", name="data cards")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "opsml_token")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert [c for c in page.context.cookies() if c["name"] == "opsml_token"] == []
    page.goto(auth_server + "/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_profile_api_token_round_trip(page: Page, auth_server: str, axe: Axe, shoot: Shoot) -> None:
    """Log in, create an API token on the profile page, use it against the API, revoke it,
    and see the API refuse it; the profile and the admin pages are axe-clean."""
    page.goto(auth_server + "/ui/profile")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("lovelace")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(auth_server + "/ui/profile")
    assert axe(page) == []
    page.get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    assert axe(page) == []
    page.locator("#users").get_by_role("link", name="ada").click()
    expect(page.get_by_role("heading", name="User ada")).to_be_visible()
    assert axe(page) == []
    shoot(page, "admin-user")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="ada").click()
    page.get_by_label("Name").fill("e2e-ci")
    page.get_by_label("Expires after").fill("7")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("opsml_")
    assert axe(page) == []
    shoot(page, "profile-new-token")
    me = f"{auth_server}/opsml/api/auth/me"
    bearer = {"authorization": f"Bearer {token}"}
    assert httpx.get(me, headers=bearer).json()["username"] == "ada"
    page.goto(auth_server + "/ui/profile")
    expect(page.locator("#new-token")).to_have_count(0)
    row = page.locator("#token-list tr", has_text="e2e-ci")
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status")).to_contain_text("API token revoked.")
    expect(page.locator("#token-list tr", has_text="e2e-ci")).to_contain_text("revoked")
    refused = httpx.get(me, headers=bearer)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "API token revoked"
