"""What a researcher does in a browser: browse, filter, follow links, see warnings."""

import re

from playwright.sync_api import expect


def test_browse_by_therapy_class_and_combine_two_filters(page):
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("NKKB")
    page.get_by_role("link", name="NK cell engager", exact=True).click()

    expect(page).to_have_url(re.compile(r"/trials/\?therapy_class=engager$"))
    expect(page.locator("#result-count")).to_have_text("10")

    page.locator("#facet-target").get_by_label(re.compile(r"^CD33 ")).check()
    page.get_by_role("button", name="Apply filters").click()

    expect(page).to_have_url(re.compile(r"therapy_class=engager.*target=cd33"))
    expect(page.locator("#result-count")).to_have_text("2")
    expect(page.get_by_role("link", name="NCT03214666")).to_be_visible()
    expect(page.get_by_role("link", name="NCT04789655")).to_be_visible()


def test_follow_a_trial_to_its_agent_and_target_and_back(page):
    page.goto("/trials/?therapy_class=engager&target=cd33")
    page.get_by_role("link", name="NCT03214666").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("NCT03214666")

    page.get_by_role("link", name="161533", exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("161533")

    page.get_by_role("link", name="CD33", exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("CD33")
    expect(page.get_by_role("link", name="NCT03214666").first).to_be_visible()

    page.go_back()
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("NCT03214666")


def test_a_cd16_dependent_agent_with_a_cd16_negative_product_is_flagged(page):
    page.goto("/compatibility/")
    page.get_by_label("Agent").select_option(label="rituximab")
    page.get_by_label("NK cell product").select_option(label="NK-92")
    page.get_by_role("button", name="Check").click()

    warning = page.locator('[data-code="cd16-lacking"]')
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("section 8")


def test_the_filter_panel_works_from_the_keyboard(page):
    page.goto("/trials/")
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link").first).to_be_focused()
    page.locator("#id_q").fill("bladder")
    page.keyboard.press("Enter")
    expect(page.locator("#result-count")).to_have_text("2")
