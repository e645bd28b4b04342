"""Every trial-list filter and sort column on the trial's own table is served by an index."""

import pytest
from django.core.management import call_command
from django.db import connection

from registry.models import RegistryRecord
from trials.filtersets import TrialFilterSet
from trials.models import Trial

pytestmark = pytest.mark.django_db


def test_the_models_and_their_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.parametrize(
    ("query", "index"),
    [
        # Phase and status filter the best-known value (trials.best_known): PostgreSQL may walk
        # the list's order instead; SQLite looks the curated value up in its index.
        (
            {"phase": ["2"]},
            "trials_trial_nct_id_key" if connection.vendor == "postgresql" else "trial_phase_idx",
        ),
        (
            {"status": ["COMPLETED"]},
            "trials_trial_nct_id_key" if connection.vendor == "postgresql" else "trial_status_idx",
        ),
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


def test_the_sponsor_options_read_the_sponsor_index():
    # (The sponsor filter's trials come from the facet index, nkkb.core.facets.)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
    sponsors = RegistryRecord.objects.exclude(lead_sponsor=None).order_by("lead_sponsor")
    assert "registry_lead_sponsor_idx" in sponsors.values("lead_sponsor").distinct().explain()
