"""The registry beside the review on the pages and in the API: every snapshot trial shows both
sides with the registry's source and date, the others say "not yet synced", and browsing uses the
best-known value, marked where it is the registry's."""

import json
import re

import pytest
from django.conf import settings
from django.http import QueryDict
from rest_framework.test import APIClient

from registry.models import RegistryRecord
from trials.best_known import known_values
from trials.choices import PHASE_FROM_REGISTRY
from trials.filtersets import TrialFilterSet
from trials.models import Trial

pytestmark = pytest.mark.django_db

SNAPSHOT = settings.NKKB_FIXTURES_DIR / "registry" / "snapshot.json"


def snapshot_entries() -> dict[str, dict]:
    entries = json.loads(SNAPSHOT.read_text(encoding="utf-8"))["trials"]
    return {entry["nct_id"]: entry for entry in entries}


def test_the_seed_holds_a_registry_record_for_each_snapshot_trial_with_a_source():
    sourced = {nct for nct, entry in snapshot_entries().items() if entry["source_url"]}
    assert set(RegistryRecord.objects.values_list("nct_id", flat=True)) == sourced
    assert len(sourced) == 27


def test_a_synced_trial_page_shows_both_sides_with_the_registrys_source_and_date(client):
    for nct_id, entry in snapshot_entries().items():
        page = client.get(f"/trials/{nct_id}/").content.decode()
        if not entry["source_url"]:
            assert 'data-registry="not-synced"' in page and "Not yet synced" in page, nct_id
            continue
        assert "Not yet synced" not in page, nct_id
        assert f'href="{entry["source_url"].replace("&", "&amp;")}"' in page, nct_id
        if entry["as_of"]:
            assert f'<time datetime="{entry["as_of"]}">' in page, nct_id
        assert "The review (curated)" in page and "The registry" in page


def test_a_trial_page_flags_where_the_review_and_the_registry_differ(client):
    # The review: terminated; the registry copy (older) still shows it active.
    page = client.get("/trials/NCT04590963/").content.decode()
    assert 'class="differs"' in page and 'data-kind="backward"' in page


def test_the_phase_is_known_wherever_the_review_or_the_snapshot_states_it():
    records = {record.nct_id: record for record in RegistryRecord.objects.all()}
    for trial in Trial.objects.prefetch_related("registry_record"):
        record = records.get(trial.nct_id)
        registry_phase = record and PHASE_FROM_REGISTRY[tuple(record.phases or ())]
        known = known_values(trial)["phase"]
        if trial.phase:
            assert (known.value, known.source) == (trial.get_phase_display(), "curated")
        elif registry_phase:
            assert known.source == "registry", trial.nct_id
            assert known.note.startswith("from the registry, "), trial.nct_id
            assert str(record.as_of or "date not given") in known.note, trial.nct_id
        else:
            assert known.source is None, trial.nct_id


def test_the_list_marks_a_value_that_comes_from_the_registry(client):
    page = client.get("/trials/?q=NCT05096663").content.decode()
    assert 'class="known-from-registry" title="from the registry, date not given"' in page
    curated = client.get("/trials/?q=NCT03022825").content.decode()
    assert "known-from-registry" not in curated.split("<tbody")[1].split("</tr>")[0]


@pytest.mark.parametrize(
    ("query", "holds"),
    [
        (
            "recruiting=true",
            lambda known: known["status"].value in ("Recruiting", "Enrolling by invitation"),
        ),
        ("has_registry_record=true", None),
        ("has_registry_record=false", None),
        ("has_discrepancy=true", None),
        ("start_year_min=2021&start_year_max=2022", None),
        ("completion_year_max=2025", None),
        ("phase=not-stated", lambda known: known["phase"].source is None),
        ("status=not-stated", lambda known: known["status"].source is None),
    ],
)
def test_the_registry_filters_select_what_they_name_on_the_page_and_in_the_api(
    client, query, holds
):
    selected = TrialFilterSet(QueryDict(query), Trial.objects.all()).qs
    trials = list(selected.prefetch_related("registry_record"))
    assert 0 < len(trials) < Trial.objects.count(), query
    if holds is not None:
        assert all(holds(known_values(trial)) for trial in trials), query
    api = APIClient().get(f"/api/v1/trials/?{query}&page_size=100&fields=nct_id").json()
    assert {trial["nct_id"] for trial in api["results"]} == {t.nct_id for t in trials}
    page = client.get(f"/trials/?{query}&page_size=100").content.decode()
    assert set(re.findall(r'href="/trials/(NCT\d{8})/">NCT', page)) == {t.nct_id for t in trials}


def test_the_api_gives_a_trials_registry_record_and_discrepancies_beside_its_curated_facts():
    trial = APIClient().get("/api/v1/trials/NCT04590963/").json()
    assert trial["status"] == "TERMINATED"  # curated, unchanged
    assert trial["registry"]["nct_id"] == "NCT04590963"
    assert trial["registry"]["source"]["url"].startswith("http")
    assert {d["kind"] for d in trial["discrepancies"]} >= {"backward"}
    unsynced = Trial.objects.exclude(nct_id__in=RegistryRecord.objects.values("nct_id")).first()
    other = APIClient().get(f"/api/v1/trials/{unsynced.nct_id}/").json()
    assert other["registry"] is None and other["discrepancies"] == []


def test_the_home_chart_counts_the_best_known_phase(client):
    page = client.get("/").content.decode()
    stated = TrialFilterSet(QueryDict("therapy_class=cytokine&phase=not-stated"), Trial.objects)
    count = stated.qs.count()
    assert f"<title>Cytokine, Phase not stated: {count} trials</title>" in page
    assert 'href="/trials/?therapy_class=cytokine&amp;phase=not-stated"' in page
