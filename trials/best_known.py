"""The best-known value of a trial's phase, status, enrollment and start year: what curators
state where they state it, else what the registry says (its record, as of its date).

The one rule for browsing: the trial list's filters and facets, its cells (marked with where
each value comes from), the home chart and the landscape all read it here. It never changes a
curated value; the trial page and the API show both sides in full.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db import connection
from django.db.models import Case, CharField, Exists, F, OuterRef, Q, QuerySet, Value, When

from nkkb.core.queries import IdsQuery
from registry.choices import Actuality, OverallStatus
from registry.models import RegistryRecord

from .choices import PHASE_FROM_REGISTRY, Phase
from .models import Trial

# The option of the phase and status filters for trials neither side states.
NOT_STATED = "not-stated"
NOT_STATED_LABEL = "Not stated"
# Statuses in which a trial takes participants now.
RECRUITING_NOW = (OverallStatus.RECRUITING, OverallStatus.ENROLLING_BY_INVITATION)
CURATED, REGISTRY = "curated", "registry"


def recorded(condition: Q, *, few: bool = False) -> Q:
    """Trials whose registry record meets `condition`; `few` where it is tested on a few trials.

    PostgreSQL cannot make `NOT (nct_id IN (records))` an anti-join (a NULL among the records
    could make it unknown): once the records outgrow `work_mem` it reads them again for every
    trial (BENCHMARKS.md, "Issue 17, fourth round"). It makes EXISTS a semi- or anti-join.
    SQLite reads an IN subquery whole, once, into an index, and runs a correlated EXISTS once
    per trial: IN is the faster for many trials, EXISTS for a few (a facet's mend after a
    write)."""
    records = RegistryRecord.objects.filter(condition)
    if few or connection.vendor == "postgresql":
        return Q(Exists(records.filter(nct_id=OuterRef("nct_id"))))
    return Q(nct_id__in=records.values("nct_id"))


def _registry_phase(phase: str) -> Q:
    """Registry records whose phases are `phase` in the review's vocabulary."""
    combinations = [list(c) for c, mapped in PHASE_FROM_REGISTRY.items() if mapped == phase]
    return reduce(or_, (Q(phases=combination) for combination in combinations), Q(pk__in=[]))


def phase_condition(phase: str, *, few: bool = False) -> Q:
    if phase == NOT_STATED:
        stated = reduce(or_, (_registry_phase(value) for value in Phase.values))
        return Q(phase__isnull=True) & ~recorded(stated, few=few)
    registry = recorded(_registry_phase(phase), few=few)
    return Q(phase=phase) | (Q(phase__isnull=True) & registry)


def status_condition(status: str, *, few: bool = False) -> Q:
    if status == NOT_STATED:
        return Q(status__isnull=True) & ~recorded(Q(overall_status__isnull=False), few=few)
    registry = recorded(Q(overall_status=status), few=few)
    return Q(status=status) | (Q(status__isnull=True) & registry)


def enrollment_condition(*, low: int | None, high: int | None) -> Q:
    bounds = {"enrollment__gte": low, "enrollment__lte": high}
    bounds = {lookup: value for lookup, value in bounds.items() if value is not None}
    return Q(**bounds) | (Q(enrollment__isnull=True) & recorded(Q(**bounds)))


def start_year_condition(*, low: int | None, high: int | None) -> Q:
    curated, registry = Q(start_year__isnull=False), Q(start_date__isnull=False)
    if low is not None:
        curated &= Q(start_year__gte=low)
        registry &= Q(start_date__gte=f"{low:04d}")
    if high is not None:
        curated &= Q(start_year__lte=high)
        registry &= Q(start_date__lt=f"{high + 1:04d}")
    return curated | (Q(start_year__isnull=True) & recorded(registry))


class OptionRows:
    """(facet_value, facet_result) rows of a facet whose options are conditions on the trial
    that exclude one another (a trial has one best-known phase): to read every trial, one
    query per option, each through its indexes; to read a few trials again after a write
    (`rows(ids)`), one query choosing each trial's option, compiled once (reading every trial
    that way costs several times as much: each trial is tested against every condition)."""

    def __init__(self, options: Callable[..., dict[str, Q]]):
        # options(few=...): {value: condition}, `few` as for `recorded`.
        self.options = options
        self.chosen_for = IdsQuery(self._chosen_for)

    def __call__(self) -> list[QuerySet]:
        return [
            Trial.objects.filter(condition).values(
                facet_value=Value(value, output_field=CharField()), facet_result=F("pk")
            )
            for value, condition in self.options().items()
        ]

    def rows(self, ids: list[int] | None = None):
        """(value, trial id) of the trials `ids` names, or of every trial where None: the
        options of a stored facet (trials.stored_facets)."""
        if ids is not None:
            return [(value, trial) for value, trial in self.chosen_for(ids) if value is not None]
        return (
            row
            for queryset in self()
            for row in queryset.values_list("facet_value", "facet_result").iterator()
        )

    def _chosen_for(self, ids) -> QuerySet:
        chosen = Case(
            *(
                When(condition, then=Value(value))
                for value, condition in self.options(few=True).items()
            ),
            output_field=CharField(),
        )
        return Trial.objects.filter(pk__in_ids=ids).values_list(chosen, "pk")


phase_rows = OptionRows(
    lambda few=False: {
        value: phase_condition(value, few=few) for value in [*Phase.values, NOT_STATED]
    }
)
status_rows = OptionRows(
    lambda few=False: {
        value: status_condition(value, few=few) for value in [*OverallStatus.values, NOT_STATED]
    }
)


@dataclass(frozen=True)
class KnownValue:
    """A best-known value as a page shows it: its label, and whose it is."""

    value: object
    label: str
    source: str | None  # CURATED, REGISTRY, or None when neither side states it
    note: str = ""

    def __str__(self):
        return self.label


def known_values(trial: Trial) -> dict[str, KnownValue]:
    """The trial's best-known phase, status, enrollment and start year (reads its prefetched
    `registry_record`)."""
    record = trial.registry_record
    registry_phase = record and PHASE_FROM_REGISTRY.get(tuple(record.phases or ()))
    estimated = record and record.enrollment_type == Actuality.ESTIMATED
    sides = {
        "phase": (
            trial.phase and Phase(trial.phase).label,
            registry_phase and Phase(registry_phase).label,
            "",
        ),
        "status": (
            trial.status and trial.get_status_display(),
            record and record.overall_status and OverallStatus(record.overall_status).label,
            "",
        ),
        "enrollment": (
            trial.enrollment,
            record and record.enrollment,
            "estimated" if estimated else "",
        ),
        "start_year": (trial.start_year, record and record.start_year, ""),
    }
    known = {}
    for field, (curated, registry, note) in sides.items():
        if curated is not None and curated != "":
            known[field] = KnownValue(curated, str(curated), CURATED)
        elif registry is not None and registry != "":
            as_of = f"as of {record.as_of}" if record.as_of else "date not given"
            note = f"from the registry, {as_of}" + (f"; {note}" if note else "")
            known[field] = KnownValue(registry, str(registry), REGISTRY, note)
        else:
            known[field] = KnownValue(None, NOT_STATED_LABEL, None)
    return known
