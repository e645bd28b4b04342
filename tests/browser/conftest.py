"""Browser tests: Debian's Chromium driven by Playwright against a live server on the seed."""

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("NKKB_CHROMIUM", "/usr/bin/chromium"))
# The probe of this environment showed Chromium stalls on background network calls without these.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]

# Playwright's sync API keeps an event loop in the main thread, which makes Django refuse ORM calls
# there; the tests themselves only drive the browser, the server thread does the queries.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        message = (
            f"Chromium is not at {CHROMIUM}: install Debian's package (`apt-get install chromium`) "
            "or set NKKB_CHROMIUM to a Chromium binary."
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def site(django_db_setup, django_db_blocker):
    """A live server on the seeded test database, shared by the browser tests.

    Not pytest-django's `live_server`: that one flushes the database after each test, which would
    remove the seed the rest of the suite reads.
    """
    from django.conf import settings
    from django.test.utils import override_settings
    from pytest_django.live_server_helper import LiveServer

    allowed_hosts = [*settings.ALLOWED_HOSTS, "localhost"]
    with django_db_blocker.unblock(), override_settings(ALLOWED_HOSTS=allowed_hosts):
        server = LiveServer("localhost")
        yield server
        server.stop()


@pytest.fixture
def page(browser, site, db):
    context = browser.new_context(base_url=site.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
