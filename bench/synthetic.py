"""Synthetic trials for benchmarks: many trials shaped like the curated seed's, in a database
of their own.

Each synthetic trial copies the shape of a curated trial drawn at random: its phase, status,
agents with their roles, NK cell products, conditions and results, and the template's registry
record if it has one (under the synthetic NCT number: a synced knowledge base holds what the
registry says of its trials, and at registry scale those records are most of the data). So the
agents, products, conditions and results per trial, the phases and statuses, and the share of
trials with a registry record keep the seed's proportions, and every combination is one the
knowledge base really holds. Rows are bulk-inserted without history: they are no curator's
edits.
"""

import random
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from nkkb.core.knowledge_base import knowledge_base_counts
from registry.models import RegistryRecord
from trials.models import Result, Trial, TrialAgent
from trials.services.seed import seed_load

# ClinicalTrials.gov numbers are far from NCT9xxxxxxx; synthetic trials take numbers from there.
SYNTHETIC_NCT_PREFIX = "NCT9"
FIRST_SYNTHETIC_NUMBER = 90_000_000
LAST_SYNTHETIC_NUMBER = 99_999_999
SYNTHETIC_SUMMARY = "Synthetic trial for benchmarks, shaped like the curated trial {template}."
BATCH_SIZE = 5_000
MAX_TITLE_LENGTH = Trial._meta.get_field("title").max_length


class SyntheticRefused(Exception):
    """The database holds curated trials and no synthetic ones: it is not a benchmark database."""


@dataclass(frozen=True)
class SyntheticReport:
    created: int
    counts: dict[str, int]
    seconds: float


def synthetic_trials():
    return Trial.objects.filter(
        nct_id__startswith=SYNTHETIC_NCT_PREFIX,
        source_summary__startswith=SYNTHETIC_SUMMARY.partition("{")[0],
    )


def synthetic_generate(*, trials: int, random_seed: int = 0) -> SyntheticReport:
    """Add `trials` synthetic trials to an empty or synthetic-only knowledge base, all or nothing.

    An empty database first gets the seed, whose catalogue (agents, products, targets,
    conditions) and trials the synthetic trials reuse. A database with curated trials and no
    synthetic one is refused, so that a real knowledge base is never filled with invented trials.
    """
    if trials < 1:
        raise ValueError("The number of trials must be at least 1.")
    started = time.perf_counter()
    with transaction.atomic():
        if not any(knowledge_base_counts().values()):
            seed_load(directory=settings.NKKB_FIXTURES_DIR)
        elif not synthetic_trials().exists():
            raise SyntheticRefused(
                "This database holds curated records and no synthetic trials. Point DATABASE_URL "
                "at an empty database for synthetic trials; they never go into a real one."
            )
        newest = synthetic_trials().order_by("-nct_id").values_list("nct_id", flat=True).first()
        first = int(newest[3:]) + 1 if newest else FIRST_SYNTHETIC_NUMBER
        if first + trials - 1 > LAST_SYNTHETIC_NUMBER:
            raise ValueError(
                f"Only {LAST_SYNTHETIC_NUMBER - first + 1} synthetic NCT numbers are left."
            )
        templates = _templates()
        # Seeded by the first number too, so that a second run does not repeat the first's draws.
        rng = random.Random(f"{random_seed}:{first}")
        end = first + trials
        for start in range(first, end, BATCH_SIZE):
            numbers = range(start, min(start + BATCH_SIZE, end))
            _insert([(number, rng.choice(templates)) for number in numbers], rng)
    return SyntheticReport(
        created=trials, counts=knowledge_base_counts(), seconds=time.perf_counter() - started
    )


@dataclass(frozen=True)
class _Template:
    trial: Trial
    agent_links: list[TrialAgent]
    product_ids: list[int]
    condition_ids: list[int]
    results: list[Result]
    registry_record: RegistryRecord | None


def _templates() -> list[_Template]:
    curated = Trial.objects.exclude(pk__in=synthetic_trials().values("pk")).prefetch_related(
        "trial_agents", "nk_products", "conditions", "results", "registry_record"
    )
    return [
        _Template(
            trial=trial,
            agent_links=list(trial.trial_agents.all()),
            product_ids=[product.pk for product in trial.nk_products.all()],
            condition_ids=[condition.pk for condition in trial.conditions.all()],
            results=list(trial.results.all()),
            registry_record=trial.registry_record,
        )
        for trial in curated
    ]


def _insert(shaped: list[tuple[int, _Template]], rng: random.Random):
    trials = Trial.objects.bulk_create(
        [_trial(number, template, rng) for number, template in shaped]
    )
    ConditionLink = Trial.conditions.through
    ProductLink = Trial.nk_products.through
    agent_links, condition_links, product_links, results, records = [], [], [], [], []
    for trial, (_, template) in zip(trials, shaped, strict=True):
        agent_links += [
            TrialAgent(trial=trial, agent_id=link.agent_id, role=link.role, detail=link.detail)
            for link in template.agent_links
        ]
        condition_links += [
            ConditionLink(trial=trial, condition_id=pk) for pk in template.condition_ids
        ]
        product_links += [
            ProductLink(trial=trial, nkcellproduct_id=pk) for pk in template.product_ids
        ]
        results += [_result(trial, result, template.trial) for result in template.results]
        if template.registry_record is not None:
            records.append(_registry_record(trial, template.registry_record))
    TrialAgent.objects.bulk_create(agent_links)
    ConditionLink.objects.bulk_create(condition_links)
    ProductLink.objects.bulk_create(product_links)
    Result.objects.bulk_create(results)
    RegistryRecord.objects.bulk_create(records)


def _provenance(template: Trial) -> dict:
    return {
        "source_section": "",
        "source_references": [],
        "source_quote": "",
        "source_summary": SYNTHETIC_SUMMARY.format(template=template.nct_id),
    }


def _trial(number: int, template: _Template, rng: random.Random) -> Trial:
    nct_id = f"NCT{number:08d}"
    suffix = f" (synthetic {nct_id})"
    curated = template.trial
    # Enrollment and start year vary around the template's, so that sorting by them is realistic.
    enrollment = (
        max(1, round(curated.enrollment * rng.uniform(0.5, 1.5)))
        if curated.enrollment
        else curated.enrollment
    )
    start_year = curated.start_year + rng.randint(-3, 3) if curated.start_year else None
    return Trial(
        nct_id=nct_id,
        title=curated.title[: MAX_TITLE_LENGTH - len(suffix)] + suffix,
        phase=curated.phase,
        status=curated.status,
        status_note=curated.status_note,
        start_year=start_year,
        enrollment=enrollment,
        **_provenance(curated),
    )


def _result(trial: Trial, curated: Result, template: Trial) -> Result:
    return Result(
        trial=trial,
        metric=curated.metric,
        value=curated.value,
        unit=curated.unit,
        value_qualifier=curated.value_qualifier,
        denominator=curated.denominator,
        population=curated.population,
        timepoint=curated.timepoint,
        **_provenance(template),
    )


def _registry_record(trial: Trial, curated: RegistryRecord) -> RegistryRecord:
    """The template's registry record, every field as it is, under the synthetic trial's number."""
    fields = {
        field.attname: getattr(curated, field.attname)
        for field in RegistryRecord._meta.concrete_fields
        if not field.primary_key
    }
    return RegistryRecord(**{**fields, "nct_id": trial.nct_id})
