"""Review: contributors propose, another curator accepts or rejects, nobody reviews their own,
and a proposal on a record that changed meanwhile is stale until rebased."""

import io

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from nkkb.core.accounts import CONTRIBUTORS_GROUP, account_create, curator_create
from nkkb.core.history import CHANGE_REASON_LENGTH
from nkkb.core.models import Proposal, ProposalStatus
from nkkb.core.proposals import (
    SELF_REVIEW_MESSAGE,
    STALE_MESSAGE,
    accepted_reason,
    proposal_accept,
    proposal_create,
    proposal_is_stale,
    proposal_rebase,
    proposal_reject,
)
from tests.test_admin import PASSWORD, admin_url, form_data
from trials.models import Condition, Trial

pytestmark = pytest.mark.django_db

NCT = "NCT02138734"
PROPOSAL_LIST = "/admin/core/proposal/"


@pytest.fixture
def contributor():
    return account_create(username="erin", password=PASSWORD, role="contributor")


@pytest.fixture
def curator():
    return curator_create(username="carol", password=PASSWORD)


@pytest.fixture
def other_curator():
    return curator_create(username="dave", password="lantern-orbit-velvet-43")


def trial():
    return Trial.objects.get(nct_id=NCT)


def propose_in_admin(client, record, **changes):
    url = admin_url(type(record), "change", record.pk)
    page = client.get(url)
    assert page.status_code == 200
    data = {**form_data(page), "proposal_source": "PMID 31234567", **changes}
    return client.post(url, data)


def review(client, proposal, action, comment=""):
    return client.post(f"{PROPOSAL_LIST}{proposal.pk}/change/", {action: "1", "comment": comment})


def public_title(client) -> tuple[str, str]:
    page = client.get(trial().get_absolute_url()).content.decode()
    api = APIClient().get(f"/api/v1/trials/{NCT}/").json()["title"]
    return page, api


def test_create_curator_makes_a_contributor_with_role(client, monkeypatch):
    monkeypatch.setenv("PW", PASSWORD)
    out = io.StringIO()
    call_command("create_curator", "fay", "--role", "contributor", "--password-from-env", "PW",
                 stdout=out)  # fmt: skip
    assert "Contributor 'fay' created." in out.getvalue()
    fay = Group.objects.get(name=CONTRIBUTORS_GROUP).user_set.get()
    assert (fay.username, fay.is_staff, fay.is_superuser) == ("fay", True, False)
    assert fay.has_perm("trials.view_trial") and fay.has_perm("core.add_proposal")
    assert not fay.has_perm("trials.change_trial") and not fay.has_perm("core.change_proposal")


def test_a_contributors_proposal_is_invisible_to_the_public_until_accepted(
    client, contributor, curator
):
    original = trial().title
    browser = client
    browser.force_login(contributor)
    response = propose_in_admin(
        browser, trial(), title="A proposed title", change_reason="title as published"
    )
    proposal = Proposal.objects.get()
    assert response.status_code == 302 and response["Location"] == proposal.get_absolute_url()
    assert proposal.changes == {"title": "A proposed title"}
    assert (proposal.proposed_by, proposal.status) == (contributor, ProposalStatus.OPEN)
    assert proposal.base_version == trial().version

    assert trial().title == original
    browser.logout()
    page, api = public_title(browser)
    assert "A proposed title" not in page and original in page
    assert api == original

    # The review page shows the diff with the form's labels.
    browser.force_login(curator)
    page = browser.get(proposal.get_absolute_url())
    assert page.context["diff"] == [
        {"field": "title", "label": "Title", "current": original, "proposed": "A proposed title"}
    ]
    assert 'name="accept"' in page.content.decode()

    response = review(browser, proposal, "accept")
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert (proposal.status, proposal.reviewed_by) == (ProposalStatus.ACCEPTED, curator)
    latest = trial().history.latest()
    assert latest.history_user == curator
    assert latest.history_change_reason == "Proposed by erin: title as published; accepted by carol"

    browser.logout()
    page, api = public_title(browser)
    assert "A proposed title" in page and api == "A proposed title"


def test_contributors_cannot_write_directly(client, contributor):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=contributor).key}")
    response = api.patch(f"/api/v1/trials/{NCT}/", {"title": "x"}, format="json")
    assert response.status_code == 403
    client.force_login(contributor)
    assert client.get(admin_url(Trial, "delete", trial().pk)).status_code == 403
    assert client.get(f"{PROPOSAL_LIST}add/").status_code == 403


def test_nobody_reviews_their_own_proposal(client, curator):
    # With review required (the default) a curator's own edit becomes a proposal too.
    client.force_login(curator)
    response = propose_in_admin(client, trial(), enrollment="99", change_reason="from the paper")
    assert response.status_code == 302
    proposal = Proposal.objects.get()
    assert proposal.changes == {"enrollment": 99} and trial().enrollment != 99

    page = client.get(proposal.get_absolute_url())
    assert not page.context["can_review"] and 'name="accept"' not in page.content.decode()
    response = review(client, proposal, "accept")
    assert SELF_REVIEW_MESSAGE in str(list(client.get(response["Location"]).context["messages"]))
    with pytest.raises(PermissionDenied, match="Nobody reviews their own"):
        proposal_accept(proposal=proposal, reviewer=curator)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.OPEN and trial().enrollment != 99


def test_a_curators_edit_saves_directly_when_review_is_not_required(client, curator, settings):
    settings.NKKB_REVIEW_REQUIRED = False
    client.force_login(curator)
    response = propose_in_admin(client, trial(), enrollment="99", change_reason="from the paper")
    assert response.status_code == 302
    assert trial().enrollment == 99 and not Proposal.objects.exists()


def test_a_stale_proposal_is_applied_only_after_a_rebase(contributor, curator, other_curator):
    first = proposal_create(
        proposer=contributor, model=Trial, object_id=trial().pk,
        values={"enrollment": 40, "status_note": "follow-up ongoing"}, source="PMID 1",
        reason="enrollment from the paper",
    )  # fmt: skip
    meanwhile = proposal_create(
        proposer=contributor, model=Trial, object_id=trial().pk,
        values={"status_note": "follow-up ongoing"}, source="registry", reason="registry note",
    )  # fmt: skip
    proposal_accept(proposal=meanwhile, reviewer=other_curator)

    assert proposal_is_stale(first)
    with pytest.raises(ValidationError, match=STALE_MESSAGE[:30]):
        proposal_accept(proposal=first, reviewer=curator)
    assert trial().enrollment != 40

    rebased = proposal_rebase(proposal=first, user=contributor)
    # The record already has the note: the rebased proposal changes the enrollment only.
    assert rebased.changes == {"enrollment": 40}
    assert rebased.base_version == trial().version and not proposal_is_stale(rebased)
    proposal_accept(proposal=rebased, reviewer=curator)
    assert (trial().enrollment, trial().status_note) == (40, "follow-up ongoing")


def test_the_review_page_flags_a_stale_proposal_and_rebases_it(client, contributor, curator):
    proposal = proposal_create(
        proposer=contributor, model=Trial, object_id=trial().pk, values={"enrollment": 41},
        source="PMID 2", reason="enrollment",
    )  # fmt: skip
    edited = trial()
    edited.status_note = "changed meanwhile"
    edited.save()

    client.force_login(curator)
    page = client.get(proposal.get_absolute_url())
    content = page.content.decode()
    assert page.context["stale"] and "Stale" in content and 'name="rebase"' in content
    review(client, proposal, "accept")
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.OPEN

    review(client, proposal, "rebase")
    assert not client.get(proposal.get_absolute_url()).context["stale"]
    review(client, proposal, "accept")
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.ACCEPTED and trial().enrollment == 41


def test_a_rejection_names_the_reviewer_and_says_why(client, contributor, curator):
    proposal = proposal_create(
        proposer=contributor, model=Trial, object_id=trial().pk, values={"enrollment": 7},
        source="a poster", reason="smaller cohort",
    )  # fmt: skip
    with pytest.raises(ValidationError, match="Say why"):
        proposal_reject(proposal=proposal, reviewer=curator, comment=" ")

    client.force_login(curator)
    review(client, proposal, "reject", comment="The poster reports an interim cohort.")
    proposal.refresh_from_db()
    assert (proposal.status, proposal.reviewed_by, proposal.review_comment) == (
        ProposalStatus.REJECTED, curator, "The poster reports an interim cohort.",
    )  # fmt: skip
    assert trial().enrollment != 7
    page = client.get(proposal.get_absolute_url()).content.decode()
    assert "carol" in page and "erin" in page and "interim cohort" in page
    with pytest.raises(ValidationError, match="already rejected"):
        proposal_accept(proposal=proposal, reviewer=curator)


def test_a_new_record_is_proposed_and_created_on_acceptance(client, contributor, curator):
    client.force_login(contributor)
    page = client.get(admin_url(Condition, "add"))
    assert page.status_code == 200
    data = {
        **form_data(page),
        "name": "Proposed condition",
        "slug": "proposed-condition",
        "proposal_source": "PMID 3",
        "change_reason": "a condition the review names",
    }
    assert client.post(admin_url(Condition, "add"), data).status_code == 302
    proposal = Proposal.objects.get()
    assert proposal.object_id is None and not Condition.objects.filter(slug="proposed-condition")

    condition = proposal_accept(proposal=proposal, reviewer=curator)
    assert condition.name == "Proposed condition"
    created = condition.history.get()
    assert (created.history_type, created.history_user) == ("+", curator)


def test_many_to_many_values_are_proposed_and_applied(contributor, curator):
    melanoma = Condition.objects.get(slug="relapsed-or-metastatic-melanoma")
    proposal = proposal_create(
        proposer=contributor, model=Trial, object_id=trial().pk,
        values={"conditions": [melanoma]}, source="PMID 4", reason="the right condition",
    )  # fmt: skip
    assert proposal.changes == {"conditions": [melanoma.pk]}
    proposal_accept(proposal=proposal, reviewer=curator)
    assert list(trial().conditions.all()) == [melanoma]


def test_the_accepted_reason_fits_the_history(contributor, curator):
    proposal = Proposal(proposed_by=contributor, reason="x" * 200)
    reason = accepted_reason(proposal, curator)
    assert len(reason) <= CHANGE_REASON_LENGTH
    assert reason.startswith("Proposed by erin: xxx") and reason.endswith("…; accepted by carol")


def test_proposals_are_in_the_api_for_curators_only(contributor, curator):
    proposal_create(
        proposer=contributor, model=Trial, object_id=trial().pk, values={"enrollment": 5},
        source="PMID 5", reason="enrollment",
    )  # fmt: skip
    api = APIClient()
    assert api.get("/api/v1/proposals/").status_code == 401
    api.force_authenticate(contributor)
    assert api.get("/api/v1/proposals/").status_code == 403
    api.force_authenticate(curator)
    listed = api.get("/api/v1/proposals/", {"status": "open"}).json()
    assert listed["count"] == 1
    item = listed["results"][0]
    assert (item["kind"], item["proposed_by"], item["stale"]) == ("trials.trial", "erin", False)
    assert item["diff"][0]["label"] == "Enrollment" and item["diff"][0]["proposed"] == "5"
    assert api.post("/api/v1/proposals/", {}).status_code == 405


def test_the_proposals_list_runs_a_constant_number_of_queries(contributor, curator):
    """The records a page of proposals changes are read together, not one query each."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=curator).key}")

    def propose(count: int):
        for record in Trial.objects.order_by("pk")[:count]:
            proposal_create(
                proposer=contributor, model=Trial, object_id=record.pk,
                values={"enrollment": 7}, source="PMID 7", reason="enrollment",
            )  # fmt: skip

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get("/api/v1/proposals/", {"page_size": 100}).status_code == 200
        return len(captured)

    propose(2)
    queries()  # the first request also fills per-process caches (content types)
    few = queries()
    propose(10)
    assert queries() == few
    assert api.get("/api/v1/proposals/", {"page_size": 100}).json()["count"] == 12
