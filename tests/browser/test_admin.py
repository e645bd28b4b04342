"""A curator's admin at 1280 px: the pages fit the screen and pass axe's accessibility checks."""

import json
from pathlib import Path

import pytest

# axe-core, vendored from npm (tests/browser/vendor/axe-core, its licence beside it).
AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
LAPTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def curator_session(site, django_db_blocker):
    """A curator's session cookie; the account is removed after this module's tests."""
    from django.test import Client

    from nkkb.core.accounts import curator_create

    with django_db_blocker.unblock():
        user = curator_create(username="browser-curator", password="lantern-orbit-velvet-43")
        client = Client()
        client.force_login(user)
        cookie = client.cookies["sessionid"].value
    yield cookie
    with django_db_blocker.unblock():
        user.delete()


@pytest.fixture
def curator_page(browser, site, curator_session, db):
    context = browser.new_context(base_url=site.url, viewport=LAPTOP)
    context.add_cookies([{"name": "sessionid", "value": curator_session, "url": site.url}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def trial_pk(nct_id: str) -> int:
    from trials.models import Trial

    return Trial.objects.get(nct_id=nct_id).pk


def agent_pk(slug: str) -> int:
    from agents.models import Agent

    return Agent.objects.get(slug=slug).pk


def admin_pages() -> dict[str, str]:
    """The pages a curator uses, by name (a trial with results, links and caveats)."""
    trial = trial_pk("NCT03019640")
    return {
        "trial list": "/admin/trials/trial/",
        "trial change form": f"/admin/trials/trial/{trial}/change/",
        "trial history": f"/admin/trials/trial/{trial}/history/",
        "agent change form": f"/admin/agents/agent/{agent_pk('rituximab')}/change/",
        "recent changes": "/admin/history/",
    }


def horizontal_overflow(page) -> int:
    """How far the page, or a box that scrolls on its own (admin's list table), runs past the
    screen's width, in pixels."""
    return page.evaluate(
        """() => Math.max(
            document.documentElement.scrollWidth - window.innerWidth,
            ...[...document.querySelectorAll('.results, .inline-group, fieldset')]
                .map(box => box.scrollWidth - box.clientWidth))"""
    )


@pytest.mark.parametrize("name", ["trial list", "trial change form", "agent change form"])
def test_admin_pages_fit_a_1280_px_screen(curator_page, name):
    curator_page.goto(admin_pages()[name])
    assert horizontal_overflow(curator_page) <= 0


@pytest.mark.parametrize(
    "name",
    ["trial list", "trial change form", "trial history", "agent change form", "recent changes"],
)
def test_axe_finds_no_serious_or_critical_violation(curator_page, name):
    assert_axe_clean(curator_page, admin_pages()[name])


def assert_axe_clean(page, url):
    response = page.goto(url)
    assert response.status == 200
    # Evaluated, not injected as a <script>: the site's Content Security Policy forbids inline
    # scripts, and rightly so.
    page.evaluate(AXE)
    violations = page.evaluate(
        "async () => (await axe.run(document)).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))"
    )
    assert violations == [], json.dumps(violations, indent=1)


@pytest.fixture(scope="module")
def open_proposal(site, django_db_blocker):
    """A contributor's open proposal for a trial; removed, with its author, afterwards."""
    from nkkb.core.accounts import account_create
    from nkkb.core.proposals import proposal_create
    from trials.models import Trial

    with django_db_blocker.unblock():
        author = account_create(
            username="browser-contributor", password="lantern-orbit-velvet-44", role="contributor"
        )
        proposal = proposal_create(
            proposer=author, model=Trial, object_id=trial_pk("NCT03019640"),
            values={"enrollment": 12, "status": "RECRUITING"}, source="PMID 1", reason="a test",
        )  # fmt: skip
    yield proposal
    with django_db_blocker.unblock():
        proposal.delete()
        author.delete()


@pytest.mark.parametrize("view", ["", "{pk}/change/"], ids=["proposal list", "proposal review"])
def test_the_review_pages_pass_axe(curator_page, open_proposal, view):
    assert_axe_clean(curator_page, "/admin/core/proposal/" + view.format(pk=open_proposal.pk))
