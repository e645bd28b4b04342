"""Synthetic trials for benchmarks: counts, the seed's proportions, refusal, constant queries."""

from collections import Counter
from statistics import mean

import pytest
from django.core.management import CommandError, call_command

from bench.synthetic import synthetic_generate, synthetic_trials
from registry.models import RegistryRecord
from trials.models import Trial
from trials.services.candidates import REVIEW_PROVENANCE_FIELDS

pytestmark = pytest.mark.django_db

N = 200


@pytest.fixture
def synthetic_kb(empty_knowledge_base):
    call_command("generate_synthetic", "--trials", N, stdout=None)


def per_trial(trials) -> dict[str, list[int]]:
    trials = trials.prefetch_related("trial_agents", "nk_products", "conditions", "results")
    return {
        "agents": [len(t.trial_agents.all()) for t in trials],
        "nk_products": [len(t.nk_products.all()) for t in trials],
        "conditions": [len(t.conditions.all()) for t in trials],
        "results": [len(t.results.all()) for t in trials],
    }


def shares(values) -> dict:
    counts = Counter(values)
    return {value: count / len(values) for value, count in counts.items()}


def test_an_empty_database_gets_the_seed_and_n_valid_synthetic_trials_in_its_proportions(
    synthetic_kb,
):
    synthetic = synthetic_trials()
    curated = Trial.objects.exclude(pk__in=synthetic.values("pk"))
    assert synthetic.count() == N
    assert curated.count() == 58  # the seed, loaded first
    assert all(nct_id.startswith("NCT9") for nct_id in synthetic.values_list("nct_id", flat=True))

    seed, made = per_trial(curated), per_trial(synthetic)
    for relation in seed:
        assert mean(made[relation]) == pytest.approx(mean(seed[relation]), rel=0.25), relation
        assert set(made[relation]) <= set(seed[relation]), relation
    for field in ("phase", "status"):
        seed_shares = shares(list(curated.values_list(field, flat=True)))
        made_shares = shares(list(synthetic.values_list(field, flat=True)))
        assert set(made_shares) <= set(seed_shares)
        for value, share in made_shares.items():
            assert share == pytest.approx(seed_shares[value], abs=0.1), (field, value)

    # As many have a registry record as the seed's trials do, each its template's.
    recorded = RegistryRecord.objects.filter(nct_id__in=synthetic.values("nct_id"))
    seed_share = RegistryRecord.objects.filter(nct_id__in=curated.values("nct_id")).count() / 58
    assert recorded.count() / N == pytest.approx(seed_share, abs=0.1)
    for record in recorded.order_by("?")[:20]:
        record.full_clean()
        summary = synthetic.get(nct_id=record.nct_id).source_summary
        template_nct = summary.rsplit(" ", 1)[1].rstrip(".")
        assert record.interventions == RegistryRecord.objects.get(nct_id=template_nct).interventions

    for trial in synthetic.order_by("?")[:20]:
        trial.full_clean(exclude=REVIEW_PROVENANCE_FIELDS)
        assert trial.source_summary.startswith("Synthetic trial for benchmarks")
        for result in trial.results.all():
            result.full_clean(exclude=REVIEW_PROVENANCE_FIELDS)

    # A second run adds its trials after the first run's.
    last = synthetic.order_by("-nct_id").first().nct_id
    assert synthetic_generate(trials=10).created == 10
    assert synthetic_trials().count() == N + 10
    assert synthetic_trials().filter(nct_id__gt=last).count() == 10


def test_a_database_with_curated_trials_is_refused_and_left_alone():
    before = Trial.objects.count()
    with pytest.raises(CommandError, match="no synthetic trials"):
        call_command("generate_synthetic", "--trials", "5")
    assert Trial.objects.count() == before


def test_a_number_below_one_is_refused(empty_knowledge_base):
    with pytest.raises(CommandError, match="at least 1"):
        call_command("generate_synthetic", "--trials", "0")
    assert not Trial.objects.exists()


LISTS = [
    "/trials/?",
    "/trials/?therapy_class=cytokine&",
    "/api/v1/trials/?",
    "/api/v1/trials/?therapy_class=cytokine&phase=2&",
]


def test_lists_run_a_constant_number_of_queries_on_synthetic_trials(
    synthetic_kb, client, list_queries_by_page_size
):
    for url in LISTS:
        counts = list_queries_by_page_size(url)
        assert counts[0] == counts[1], (url, counts)
    listed = client.get("/api/v1/trials/?page_size=100").json()["results"]
    assert len(listed) == 100  # a full page of 100
