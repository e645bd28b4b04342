"""Every public page on a phone (390 px) and a laptop (1280 px): it fits the screen, the trial
table shows every column, filters read as removable chips, the keyboard reaches the results, and
axe finds no serious or critical accessibility violation."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

# axe-core, vendored from npm (tests/browser/vendor/axe-core, its licence beside it).
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
WIDTHS = {"phone": PHONE, "laptop": LAPTOP}
PUBLIC_PAGES = [
    "/",
    "/trials/",
    "/trials/?therapy_class=engager&target=cd33&ordering=-enrollment",
    "/trials/?q=monalizumb",
    "/trials/NCT04074746/",
    "/trials/NCT03019640/",
    "/agents/",
    "/agents/daratumumab/",
    "/targets/",
    "/targets/cd33/",
    "/nk-products/",
    "/nk-products/nk-92/",
    "/landscape/",
    "/compatibility/",
    "/compatibility/?agent=daratumumab&product=nk-92",
]


@pytest.fixture
def open_page(browser, site, db):
    """A page at a given viewport; the CSP is bypassed only so that axe can be injected."""
    contexts = []

    def open_at(viewport, url):
        context = browser.new_context(base_url=site.url, viewport=viewport, bypass_csp=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(url)
        return page

    yield open_at
    for context in contexts:
        context.close()


def horizontal_overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_every_public_page_fits_and_passes_axe(open_page, width, url):
    page = open_page(WIDTHS[width], url)
    assert horizontal_overflow(page) <= 0
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, where: v.nodes.map(n => n.target.join(' '))}))"
    )
    assert [v for v in violations if v["impact"] in ("serious", "critical")] == []


def test_every_trial_column_is_visible_at_1280_px_without_an_inner_scroller(open_page):
    page = open_page(LAPTOP, "/trials/")
    headers = page.locator("#results thead th")
    expect(headers).to_have_count(8)  # NCT, title, phase, status, classes, ..., warnings
    width = page.evaluate("window.innerWidth")
    for index in range(headers.count()):
        box = headers.nth(index).bounding_box()
        assert box and 0 <= box["x"] and box["x"] + box["width"] <= width
    scrollers = page.evaluate(
        "[...document.querySelectorAll('#results *')].filter(e => e.scrollWidth > e.clientWidth"
        " + 1 && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX)).length"
    )
    assert scrollers == 0
    # The header stays in view as the rows scroll by.
    page.mouse.wheel(0, 1500)
    page.wait_for_timeout(200)
    top = page.locator("#results thead th").first.bounding_box()["y"]
    assert 0 <= top < 5


def test_each_chip_removes_one_filter(open_page):
    page = open_page(LAPTOP, "/trials/?therapy_class=engager&target=cd33")
    expect(page.locator("#result-count")).to_have_text("2")
    chips = page.locator(".chips .chip")
    expect(chips).to_have_count(2)
    page.get_by_role("link", name="Remove filter Target: CD33").click()
    expect(page).to_have_url(re.compile(r"/trials/\?therapy_class=engager$"))
    expect(page.locator("#result-count")).to_have_text("10")
    expect(page.locator(".chips .chip")).to_have_count(1)
    page.get_by_role("link", name="Remove filter Therapy class: NK cell engager").click()
    expect(page.locator(".chips")).to_have_count(0)
    expect(page.locator("#result-summary")).to_contain_text("Showing 1–25 of 58 trials")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_keyboard_skips_to_the_results(open_page, width):
    page = open_page(WIDTHS[width], "/trials/")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to results")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#results")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('results').contains(document.activeElement)")


def test_after_applying_filters_focus_moves_to_the_results_and_their_count_is_announced(
    open_page,
):
    page = open_page(LAPTOP, "/trials/")
    page.locator("#facet-therapy_class").get_by_label(re.compile(r"^NK cell engager ")).check()
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#result-count")).to_have_text("10")
    expect(page.locator("#results")).to_be_focused()
    expect(page.locator("#results-announcement")).to_have_text("Showing 1–10 of 10 trials")
    expect(page.locator("th[aria-sort]")).to_have_count(0)
    page.get_by_role("link", name="Enrollment").click()
    expect(page.locator("th[aria-sort]")).to_have_attribute("aria-sort", "ascending")


def test_on_a_phone_the_menu_folds_and_the_results_come_before_the_filters(open_page):
    page = open_page(PHONE, "/trials/?phase=2")
    expect(page.get_by_role("link", name="Landscape")).to_be_hidden()
    page.get_by_text("Menu").click()
    expect(page.get_by_role("link", name="Landscape")).to_be_visible()
    expect(page.get_by_text("Filters (1)")).to_be_visible()
    expect(page.get_by_role("button", name="Apply filters")).to_be_hidden()
    first_row = page.locator("#results tbody tr").first.bounding_box()
    assert first_row["y"] < PHONE["height"]
    page.get_by_text("Filters (1)").click()
    expect(page.get_by_role("button", name="Apply filters")).to_be_visible()


def test_the_column_chooser_keeps_its_choice_in_the_url(open_page):
    page = open_page(LAPTOP, "/trials/?phase=2")
    page.get_by_text("Columns", exact=True).click()
    chooser = page.locator(".column-chooser")
    chooser.get_by_label("Conditions").uncheck()
    chooser.get_by_label("Start year").check()
    chooser.get_by_role("button", name="Show these columns").click()
    expect(page).to_have_url(re.compile(r"phase=2.*columns=start_year"))
    headers = page.locator("#results thead th")
    expect(headers.filter(has_text="Start year")).to_have_count(1)
    expect(headers.filter(has_text="Conditions")).to_have_count(0)
    page.get_by_role("link", name="Enrollment").click()
    expect(headers.filter(has_text="Start year")).to_have_count(1)
