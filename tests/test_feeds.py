"""Atom feeds: recent changes, open proposals, a trial's history and a saved search; each reads
as Atom in a feed parser and follows the data."""

import feedparser
import pytest
from django.http import QueryDict
from rest_framework.authtoken.models import Token

from nkkb.core.accounts import account_create, curator_create
from nkkb.core.proposals import proposal_accept, proposal_create
from tests.test_admin import PASSWORD
from trials.filtersets import TrialFilterSet
from trials.models import Trial

pytestmark = pytest.mark.django_db

NCT = "NCT02138734"
SEARCHES = ["therapy_class=engager&target=cd33", "phase=1&phase=2", "q=rituximab", ""]


@pytest.fixture
def curator():
    return curator_create(username="carol", password=PASSWORD)


@pytest.fixture
def contributor():
    return account_create(username="erin", password=PASSWORD, role="contributor")


def read_feed(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    return feed


def accept_enrollment(contributor, curator, enrollment: int, reason: str):
    proposal = proposal_create(
        proposer=contributor, model=Trial, object_id=Trial.objects.get(nct_id=NCT).pk,
        values={"enrollment": enrollment}, source="PMID 1", reason=reason,
    )  # fmt: skip
    proposal_accept(proposal=proposal, reviewer=curator)
    return proposal


def test_recent_changes_feed_shows_an_accepted_change_first(client, contributor, curator):
    before = read_feed(client, "/feeds/changes/")
    assert before.entries and before.feed.title == "NKKB: recent changes"

    accept_enrollment(contributor, curator, 77, "enrollment from the paper")
    after = read_feed(client, "/feeds/changes/")
    newest = after.entries[0]
    assert newest.id != before.entries[0].id
    assert NCT in newest.title and newest.author == "carol"
    assert "Proposed by erin: enrollment from the paper; accepted by carol" in newest.summary
    assert "Enrollment:" in newest.summary and "→ 77" in newest.summary
    assert newest.link.endswith(f"/trials/{NCT}/")
    dates = [entry.updated_parsed for entry in after.entries]
    assert dates == sorted(dates, reverse=True)


def test_the_public_feed_leaves_out_what_only_curators_read(client):
    feed = read_feed(client, "/feeds/changes/?")
    assert not any("study candidate" in entry.title for entry in feed.entries)


def test_a_trials_feed_is_its_history(client, contributor, curator):
    url = f"/feeds/trials/{NCT}/"
    before = read_feed(client, url)
    assert before.feed.title == f"NKKB: changes to {NCT}"
    accept_enrollment(contributor, curator, 78, "from the publication")
    after = read_feed(client, url)
    assert len(after.entries) == len(before.entries) + 1
    assert "from the publication" in after.entries[0].summary
    assert client.get("/feeds/trials/NCT99999999/").status_code == 404


@pytest.mark.parametrize("query", SEARCHES)
def test_a_saved_searchs_feed_lists_exactly_the_trials_of_that_filter(client, query):
    feed = read_feed(client, f"/feeds/trials/?{query}")
    expected = TrialFilterSet(QueryDict(query), queryset=Trial.objects.all()).qs
    expected = list(expected.order_by("-created", "-pk").values_list("nct_id", flat=True)[:50])
    assert [entry.id.rsplit(":", 1)[1] for entry in feed.entries] == expected
    assert expected
    assert feed.feed.link.endswith(f"/trials/?{query}" if query else "/trials/")


def test_a_saved_searchs_feed_shows_a_new_trial(client):
    before = read_feed(client, "/feeds/trials/?phase=1")
    template = Trial.objects.filter(phase="1").first()
    Trial.objects.create(
        nct_id="NCT09999999", title="A new phase I trial", phase="1",
        source_section=template.source_section, source_quote=template.source_quote,
        source_summary=template.source_summary,
    )  # fmt: skip
    after = read_feed(client, "/feeds/trials/?phase=1")
    assert after.entries[0].id == "urn:nkkb:trial:NCT09999999"
    assert len(after.entries) == min(len(before.entries) + 1, 50)


def test_an_invalid_filter_is_a_400(client):
    assert client.get("/feeds/trials/?phase=not-a-phase").status_code == 400
    assert client.get("/feeds/trials/?agent=no-such-agent").status_code == 400


def test_the_proposals_feed_is_for_curators(client, contributor, curator):
    proposal_create(
        proposer=contributor, model=Trial, object_id=Trial.objects.get(nct_id=NCT).pk,
        values={"enrollment": 3}, source="PMID 2", reason="a smaller cohort",
    )  # fmt: skip
    assert client.get("/feeds/proposals/").status_code == 403
    assert client.get("/feeds/proposals/?token=not-a-token").status_code == 403
    contributor_token = Token.objects.create(user=contributor).key
    assert client.get(f"/feeds/proposals/?token={contributor_token}").status_code == 403

    token = Token.objects.create(user=curator).key
    feed = read_feed(client, f"/feeds/proposals/?token={token}")
    [entry] = feed.entries
    assert entry.author == "erin" and "a smaller cohort" in entry.summary
    assert "Enrollment:" in entry.summary

    # It follows the proposals, which are not part of the knowledge base's data version.
    proposal_create(
        proposer=contributor, model=Trial, object_id=Trial.objects.get(nct_id=NCT).pk,
        values={"enrollment": 4}, source="PMID 3", reason="another reading",
    )  # fmt: skip
    assert len(read_feed(client, f"/feeds/proposals/?token={token}").entries) == 2

    client.force_login(curator)
    assert len(read_feed(client, "/feeds/proposals/").entries) == 2


def test_pages_name_their_feeds_for_feed_readers(client):
    """A feed reader given a page's address finds its feed (<link rel="alternate">)."""
    alternate = '<link rel="alternate" type="application/atom+xml"'
    home = client.get("/").content.decode()
    assert f'{alternate} title="NKKB: recent changes" href="/feeds/changes/">' in home
    trial = client.get("/trials/NCT03019640/").content.decode()
    assert 'href="/feeds/trials/NCT03019640/"' in trial
    listed = client.get("/trials/?therapy_class=engager").content.decode()
    assert 'href="/feeds/trials/?therapy_class=engager"' in listed
