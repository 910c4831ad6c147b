"""The experiment screens in a real browser: the runs table (sorting by a metric, filtering,
paging, choosing columns), comparing runs, model versions and prompt versions, the search
box, the full-width layout and the dark theme; with and without JavaScript, axe-clean."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Browser, Page, expect

if TYPE_CHECKING:
    from tests.e2e.conftest import Seeded

pytestmark = pytest.mark.e2e

Axe = Callable[[Page], list[dict[str, Any]]]
Shoot = Callable[[Page, str], Path]


def _open(page: Page, url: str, axe: Axe) -> None:
    response = page.goto(url)
    assert response is not None
    assert response.status == 200, f"{url} answered {response.status}"
    assert axe(page) == [], f"accessibility violations on {url}"


def _column(page: Page, index: int) -> list[float]:
    """The numbers in a column of the runs table (1-based, as CSS counts)."""
    cells = page.locator(f"table.runs tbody tr td:nth-child({index})").all_text_contents()
    return [float(c.replace(",", "")) for c in cells]


def test_runs_table_sorts_by_a_metric_and_pages(
    page: Page, seeded: Seeded, axe: Axe, shoot: Shoot
) -> None:
    _open(page, seeded.url + "/ui/spaces/sweep", axe)
    page.get_by_role("link", name="Runs table of sweep").click()
    expect(page.get_by_role("heading", name="Runs of sweep")).to_be_visible()
    page.get_by_label("metric columns").fill("accuracy")
    page.get_by_label("parameter columns").fill("lr,depth")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("table.runs tbody tr")).to_have_count(50)
    # run, status, started, duration, user, lr, depth, then accuracy latest/min/max
    page.get_by_role("link", name="latest").click()
    expect(page.locator("th[aria-sort='descending']")).to_have_text("latest ▼")
    assert axe(page) == []
    shoot(page, "runs-table")
    first = _column(page, 9)
    assert first == sorted(first, reverse=True)
    assert "metrics=accuracy" in page.url
    assert "params=lr%2Cdepth" in page.url
    page.get_by_role("link", name="Next page").click()
    rest = _column(page, 9)
    assert len(rest) == 50
    assert max(rest) <= min(first)
    page.get_by_role("link", name="latest").click()  # again: ascending, first page
    expect(page.locator("th[aria-sort='ascending']")).to_have_text("latest ▲")
    ascending = _column(page, 9)
    assert ascending == sorted(ascending)


def test_runs_table_filters_and_compares_runs(
    page: Page, seeded: Seeded, axe: Axe, shoot: Shoot
) -> None:
    _open(page, seeded.url + "/ui/runs?space=sweep&params=lr&metrics=loss", axe)
    page.get_by_label("filter").fill("params.lr = 0.1 and metrics.loss < 0.05")
    page.get_by_label("filter").press("Enter")
    lrs = page.locator("table.runs tbody tr td:nth-child(7)").all_text_contents()
    assert lrs
    assert set(lrs) == {"0.1"}
    boxes = page.locator("table.runs tbody input[type=checkbox]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    boxes.nth(2).check()
    page.get_by_role("button", name="Compare selected runs").click()
    expect(page.get_by_role("heading", name="Compare 3 experiment cards")).to_be_visible()
    assert axe(page) == []
    expect(page.locator("svg.parallel g.series")).to_have_count(3)
    expect(page.locator("figure.metric[data-metric='loss'] g.series")).to_have_count(3)
    expect(page.locator("tr.differs").filter(has_text="depth")).to_have_count(1)
    shoot(page, "compare-runs")
    page.get_by_label("Metric name contains").fill("val")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("figure.metric[data-metric]")).to_have_count(1)


def test_compare_model_and_prompt_versions(
    page: Page, seeded: Seeded, axe: Axe, shoot: Shoot
) -> None:
    _open(page, f"{seeded.url}/ui/model/{seeded.uids['model']}", axe)
    page.locator("#versions").get_by_role("link", name="with v0.2.0").click()
    expect(page.get_by_role("heading", name="Compare 2 model cards")).to_be_visible()
    assert axe(page) == []
    expect(page.locator("tr.differs").filter(has_text="C")).not_to_have_count(0)
    shoot(page, "compare-models")
    _open(page, f"{seeded.url}/ui/prompt/{seeded.uids['prompt']}", axe)
    page.locator("#versions").get_by_role("link", name="with v0.2.0").click()
    expect(page.locator("pre.diff ins")).to_contain_text("in one line")
    expect(page.locator("pre.diff del")).to_contain_text("Summarise why")
    assert axe(page) == []
    shoot(page, "compare-prompts")


def test_one_search_box(page: Page, seeded: Seeded, axe: Axe) -> None:
    _open(page, seeded.url + "/", axe)
    page.get_by_label("registry").select_option("experiment")
    page.get_by_label("search", exact=True).fill("trees-")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table.results tbody tr")).to_have_count(50)
    page.get_by_label("search", exact=True).fill("sweep/trees-1 v0.3.*")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table.results tbody tr")).to_have_count(1)
    assert axe(page) == []


def test_new_screens_work_without_javascript(no_js_page: Page, seeded: Seeded) -> None:
    page = no_js_page
    page.goto(seeded.url + "/ui/runs?space=sweep&name=trees-0")
    page.get_by_label("metric columns").fill("val_loss")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("link", name="min").click()
    expect(page.locator("table.runs tbody tr")).to_have_count(50)
    boxes = page.locator("table.runs tbody input[type=checkbox]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.get_by_role("button", name="Compare selected runs").click()
    expect(page.locator("svg.parallel")).to_be_visible()
    expect(page.locator("figure.metric svg.chart").first).to_be_visible()


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_theme_follows_the_system_and_pages_use_the_width(
    browser: Browser, seeded: Seeded, axe: Axe, shoot: Shoot, scheme: str
) -> None:
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, color_scheme=scheme)
    page = context.new_page()
    try:
        for url in (
            "/",
            "/ui/runs?space=sweep&metrics=loss&params=lr",
            f"/ui/experiment/{seeded.uids['experiment']}",
            f"/ui/experiment/{seeded.uids['sweep_run']}",
            f"/ui/compare/prompt?uid={seeded.uids['prompt']}&uid={seeded.uids['prompt_v2']}",
            f"/ui/data/{seeded.uids['data']}",
        ):
            _open(page, seeded.url + url, axe)
        page.goto(f"{seeded.url}/ui/experiment/{seeded.uids['sweep_run']}")
        expect(page.locator("figure.metric svg.chart")).to_have_count(20)
        # 1 000 steps: the line at chart width, 100 hover points from the first step to the last
        loss = page.locator("figure.metric[data-metric='loss']")
        expect(loss.locator("circle.point")).to_have_count(100)
        assert loss.locator("circle.point").last.get_attribute("data-x") == "999"
        expect(page.locator("table.latest").get_by_text("1000", exact=True)).not_to_have_count(0)
        background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        channels = [int(c) for c in re.findall(r"\d+", background)[:3]]
        assert (sum(channels) < 150) == (scheme == "dark"), background
        width = page.evaluate("() => document.querySelector('main').getBoundingClientRect().width")
        assert width > 1500
        shoot(page, f"run-{scheme}")
    finally:
        context.close()
