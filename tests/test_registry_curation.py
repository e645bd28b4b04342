"""Curators weigh what the registry says: the discrepancy page, and taking the registry's value
for a curated field as one recorded action."""

import html
import math
import re

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from agents.models import NKCellProduct
from nkkb.core.accounts import curator_create
from registry.models import RegistryRecord, StudyCandidate
from trials.discrepancies import discrepancies
from trials.models import Trial
from trials.services.registry_values import registry_value_accept

pytestmark = pytest.mark.django_db

URL = "/curation/discrepancies/"


@pytest.fixture
def curator():
    return curator_create(username="carol", password="lantern-orbit-velvet-42")


def test_only_curators_see_the_discrepancies(client, curator):
    assert client.get(URL).status_code == 302
    client.force_login(curator)
    page = client.get(URL).content.decode()
    found = discrepancies()
    trials = len({d.nct_id for d in found})
    assert found and f"{trials} trials with discrepancies; {len(found)} discrepancies." in page
    assert page.count("<tr data-kind=") == len(found)


def test_the_page_lists_the_trials_a_page_at_a_time_keeping_its_filters(
    client, curator, monkeypatch
):
    monkeypatch.setattr("trials.views.TRIALS_PER_PAGE", 2)
    client.force_login(curator)
    expected = [d for d in discrepancies() if d.field == "status"]
    shown, url, pages = [], f"{URL}?field=status", 0
    while url:
        page = client.get(url).content.decode()
        rows = re.findall(
            r'<tr data-kind="[^"]+">\s*<td><a href="[^"]+">(NCT\d+)</a></td>\s*'
            r"<td>(\w+)</td>",
            page,
        )
        assert len({nct for nct, _ in rows}) <= 2
        shown += rows
        pages += 1
        following = re.search(r'<a href="([^"]+)" rel="next">', page)
        url = following and URL + html.unescape(following[1])
        assert url is None or "field=status" in url
    assert shown == [(d.nct_id, d.field) for d in expected]
    assert pages == math.ceil(len({d.nct_id for d in expected}) / 2) > 1


def test_the_page_filters_by_kind_and_trial(client, curator):
    client.force_login(curator)
    backward = [d for d in discrepancies() if d.kind == "backward"]
    page = client.get(URL, {"kind": "backward"}).content.decode()
    assert page.count('<tr data-kind="backward">') == len(backward) == page.count("<tr data-kind=")
    page = client.get(URL, {"nct": "nct04590963"}).content.decode()
    assert "NCT04590963" in page and "NCT02643550" not in page


def test_accepting_the_registrys_value_records_who_and_why(client, curator):
    trial = Trial.objects.get(nct_id="NCT02643550")  # review: 40; registry: 143 actual
    record = RegistryRecord.objects.get(nct_id=trial.nct_id)
    assert (trial.enrollment, record.enrollment, record.enrollment_type) == (40, 143, "ACTUAL")
    client.force_login(curator)

    response = client.post(
        URL, {"nct_id": trial.nct_id, "field": "enrollment", "reason": "final registry count"}
    )

    assert response.status_code == 302
    trial.refresh_from_db()
    assert trial.enrollment == 143
    latest = trial.history.first()
    assert latest.history_user == curator
    assert latest.history_change_reason == (
        "Registry value accepted (enrollment): final registry count"
    )
    assert not [d for d in discrepancies() if d.nct_id == trial.nct_id and d.field == "enrollment"]


def test_nothing_is_accepted_without_a_reason_or_a_registry_value(curator):
    trial = Trial.objects.get(nct_id="NCT02643550")
    history = trial.history.count()
    with pytest.raises(ValidationError, match="reason is required"):
        registry_value_accept(trial=trial, field="enrollment", user=curator, reason="  ")
    unsynced = Trial.objects.exclude(nct_id__in=RegistryRecord.objects.values("nct_id")).first()
    with pytest.raises(ValidationError, match="no registry record"):
        registry_value_accept(trial=unsynced, field="phase", user=curator, reason="because")
    with pytest.raises(ValidationError, match="cannot"):
        registry_value_accept(trial=trial, field="title", user=curator, reason="because")
    trial.refresh_from_db()
    assert (trial.enrollment, trial.history.count()) == (40, history)


def test_an_estimated_registry_enrollment_never_replaces_an_actual_one_by_itself(client):
    """Reading the seed, browsing and syncing leave the curated figure; only a curator's
    acceptance would change it."""
    trial = Trial.objects.get(nct_id="NCT05221840")  # review: 189; registry: 999 estimated
    record = RegistryRecord.objects.get(nct_id=trial.nct_id)
    assert (trial.enrollment, record.enrollment, record.enrollment_type) == (189, 999, "ESTIMATED")
    client.get(f"/trials/{trial.nct_id}/")
    client.get("/api/v1/trials/?enrollment_min=500")
    trial.refresh_from_db()
    assert trial.enrollment == 189
    assert [
        d.kind for d in discrepancies() if d.nct_id == trial.nct_id and d.field == "enrollment"
    ] == ["estimate"]


def candidate(nct_id: str) -> StudyCandidate:
    record = RegistryRecord.objects.create(
        nct_id=nct_id, brief_title=f"NK cells in {nct_id}", source_kind="api"
    )
    found = StudyCandidate.objects.create(
        record=record, matches=[{"name": "NK-92", "matched": "product:nk-92", "how": "exact"}]
    )
    found.matched_products.add(NKCellProduct.objects.get(slug="nk-92"))
    return found


def test_curators_accept_or_reject_candidates_with_a_reason(client, curator):
    accepted, rejected = candidate("NCT09900101"), candidate("NCT09900102")
    assert client.get("/curation/candidates/").status_code == 302  # anonymous: to the login
    client.force_login(curator)
    page = client.get("/curation/candidates/").content.decode()
    assert 'data-nct="NCT09900101"' in page and 'data-nct="NCT09900102"' in page

    client.post(
        "/curation/candidates/",
        {"candidate": accepted.pk, "decision": "accept", "reason": "CAR-NK study in scope"},
    )
    client.post("/curation/candidates/", {"candidate": rejected.pk, "decision": "reject"})
    client.post(
        "/curation/candidates/",
        {"candidate": rejected.pk, "decision": "reject", "reason": "healthy volunteers"},
    )

    trial = Trial.objects.get(nct_id="NCT09900101")
    assert list(trial.nk_products.values_list("slug", flat=True)) == ["nk-92"]
    assert trial.source_section == "" and "registry" in trial.source_summary
    assert trial.history.first().history_user == curator
    rejected.refresh_from_db()
    assert (rejected.status, rejected.decision_reason, rejected.decided_by) == (
        "rejected",
        "healthy volunteers",
        curator,
    )
    assert not Trial.objects.filter(nct_id="NCT09900102").exists()
    page = client.get("/curation/candidates/").content.decode()
    assert "No candidate." in page


def test_the_api_lists_candidates_to_curators_only(curator):
    candidate("NCT09900103")
    anonymous = APIClient().get("/api/v1/candidates/")
    assert anonymous.status_code == 401
    api = APIClient()
    api.force_authenticate(curator)
    listed = api.get("/api/v1/candidates/", {"status": "open"}).json()["results"]
    assert [found["record"]["nct_id"] for found in listed] == ["NCT09900103"]
    assert listed[0]["matched_products"] == ["nk-92"]
    one = api.get("/api/v1/candidates/NCT09900103/")
    assert one.status_code == 200 and one.json()["status"] == "open"
    assert api.post("/api/v1/candidates/", {}).status_code == 403  # read-only
