"""Every trial-list filter and sort column on the trial's own table is served by an index."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Q

from trials import best_known
from trials.filtersets import TrialFilterSet
from trials.models import Trial

pytestmark = pytest.mark.django_db


def test_the_models_and_their_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.parametrize(
    ("query", "index"),
    [
        # Phase and status filter the best-known value (trials.best_known): the curated value
        # is looked up in its index.
        ({"phase": ["2"]}, "trial_phase_idx"),
        ({"status": ["COMPLETED"]}, "trial_status_idx"),
        ({"ordering": "enrollment"}, "trial_enrollment_idx"),
        ({"ordering": "title"}, "trial_title_idx"),
        # Empty last when descending: PostgreSQL needs an index of that order (migration 0003).
        (
            {"ordering": "-enrollment"},
            "trial_enrollment_desc_idx"
            if connection.vendor == "postgresql"
            else "trial_enrollment_idx",
        ),
    ],
)
def test_the_trial_list_uses_an_index_for(query, index):
    if connection.vendor == "postgresql":
        # On a table this small PostgreSQL rightly prefers reading it whole; is the index usable?
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
    filterset = TrialFilterSet(query, queryset=Trial.objects.all())
    assert filterset.is_valid(), filterset.errors
    assert index in filterset.qs.explain()


def test_the_sponsor_filter_reads_the_sponsor_index():
    # (Its options come from the facet index, nkkb.core.facets.)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
    filterset = TrialFilterSet({"sponsor": ["ImmunityBio, Inc."]}, queryset=Trial.objects.all())
    assert filterset.is_valid(), filterset.errors
    assert "registry_lead_sponsor_idx" in filterset.qs.explain()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan")
@pytest.mark.parametrize(
    "condition",
    [
        lambda: best_known.status_condition(best_known.NOT_STATED),
        lambda: best_known.phase_condition(best_known.NOT_STATED),
        lambda: ~best_known.recorded(Q()),
    ],
    ids=["status not stated", "phase not stated", "without a record"],
)
def test_trials_the_registry_says_nothing_of_are_found_by_an_anti_join(condition):
    # NOT IN (records) reads the records again for every trial once they outgrow work_mem.
    assert "Anti Join" in Trial.objects.filter(condition()).explain()
