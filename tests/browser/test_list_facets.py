"""The agent, NK cell product and target lists in Chromium on a phone (390 px) and a laptop
(1280 px): a checked facet narrows the list to the count it showed, its chip removes it, the page
fits the screen and axe finds no serious or critical violation (issue #14)."""

import re

import pytest
from playwright.sync_api import expect

# The public pages' viewports, fit check, vendored axe and page fixture, so that these lists are
# held to the same standard as every other page.
from . import test_pages
from .test_pages import AXE, WIDTHS, horizontal_overflow

open_page = test_pages.open_page

FILTERED_LISTS = [
    "/agents/?agent_class=engager&target=cd16&ordering=-name",
    "/nk-products/?target=cd19&cd16_status=high-affinity",
    "/targets/?kind=tumor-antigen&kind=immune-checkpoint",
]


def serious_violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, where: v.nodes.map(n => n.target.join(' '))}))"
    )
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def open_filters(page) -> None:
    """On a phone the filters wait behind "Filters (n)"; on a laptop they stand open."""
    apply = page.get_by_role("button", name="Apply filters")
    if not apply.is_visible():
        page.locator(".filter-drawer > summary").click()
    expect(apply).to_be_visible()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_checked_facet_narrows_the_agents_to_its_count_and_its_chip_removes_it(open_page, width):
    page = open_page(WIDTHS[width], "/agents/")
    total = page.locator("#result-count").inner_text()
    expect(page.get_by_text("Filters (0)")).to_have_count(1)
    open_filters(page)
    option = page.locator("#facet-agent_class label").filter(has_text="NK cell engager")
    shown = option.locator(".count").get_attribute("data-count")
    assert 0 < int(shown) < int(total)
    option.get_by_role("checkbox").check()
    page.get_by_role("button", name="Apply filters").click()

    expect(page).to_have_url(re.compile(r"/agents/\?(.*&)?agent_class=engager(&|$)"))
    expect(page.locator("#result-count")).to_have_text(shown)
    expect(page.locator("#result-summary")).to_contain_text(f"Showing 1–{shown} of {shown} agents")
    expect(page.locator("#results")).to_be_focused()
    expect(page.locator("#facet-agent_class input[value=engager]")).to_be_checked()
    expect(page.get_by_text("Filters (1)")).to_have_count(1)
    assert horizontal_overflow(page) <= 0
    assert serious_violations(page) == []

    page.get_by_role("link", name="Remove filter Class: NK cell engager").click()
    # The form sent the empty search box too; the chip leaves only that.
    expect(page).to_have_url(re.compile(r"/agents/\?(q=)?$"))
    expect(page.locator("#result-count")).to_have_text(total)
    expect(page.locator(".chips")).to_have_count(0)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("url", FILTERED_LISTS)
def test_filtered_lists_fit_and_pass_axe_with_their_facets_open(open_page, width, url):
    page = open_page(WIDTHS[width], url)
    open_filters(page)
    expect(page.locator("fieldset.facet").first).to_be_visible()
    expect(page.locator(".chips .chip")).to_have_count(2)
    assert horizontal_overflow(page) <= 0
    assert serious_violations(page) == []
