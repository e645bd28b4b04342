"""Where what the registry says differs from what curators state, per trial and field.

Computed from a trial and its registry record; which trials have which (DISCREPANCIES) is kept
in the database and mended after each write (nkkb.core.stored_facets). A trial without a record
has none: it is not yet synced. The registry's silence is never a discrepancy, and neither is a
curator's: a value only one side states is a gap, not a disagreement.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from nkkb.core.queries import IdsQuery, row_record
from nkkb.core.stored_facets import DerivedFacet, stored_options
from registry.choices import Actuality, OverallStatus, RegistryPhase
from registry.matching import name_keys, names_of, unlinked_names
from registry.models import RegistryRecord, first_day

from .best_known import recorded
from .choices import PHASE_FROM_REGISTRY, DiscrepancyKind, Phase, TrialStatus
from .models import Trial, TrialAgent, registry_records_of, touched_trials

# Each phase as the range of numbered phases it spans. A curated phase is consistent with the
# registry's when it starts where the registry's starts and ends within it: the review's "Ib" or
# "I" of a registry "Phase 1/Phase 2" trial names the first part of that trial, more precisely,
# not differently. "II" of a "Phase 1/Phase 2" trial leaves out its phase 1, and "I/II" of a
# "Phase 2" trial reaches outside it: both conflicts.
PHASE_RANGES: dict[str, tuple[int, int]] = {
    Phase.I: (1, 1),
    Phase.IB: (1, 1),
    Phase.I_II: (1, 2),
    Phase.I_IIA: (1, 2),
    Phase.IB_II: (1, 2),
    Phase.II: (2, 2),
    Phase.II_III: (2, 3),
    Phase.III: (3, 3),
    Phase.IV: (4, 4),
}
# Read once: an enum's `values` builds its list on every read, once per trial compared.
TRIAL_STATUSES = frozenset(TrialStatus.values)
# A trial's life runs from before recruiting to finished. A registry status before the finish
# for a trial curators call finished goes backward: either the registry copy predates what the
# review knew (the record's as-of date says how old it is), or the trial was reopened. The other
# way round (curated as recruiting, finished in the registry) the registry has moved on since
# the review: a plain conflict, with the registry's as-of date in its message.
FINISHED = {TrialStatus.COMPLETED, TrialStatus.TERMINATED, TrialStatus.WITHDRAWN}
BEFORE_FINISH = {
    OverallStatus.NOT_YET_RECRUITING,
    OverallStatus.RECRUITING,
    OverallStatus.ENROLLING_BY_INVITATION,
    OverallStatus.ACTIVE_NOT_RECRUITING,
}


@dataclass(frozen=True)
class Discrepancy:
    """One field on which the registry and the curators differ, each side as shown to readers."""

    nct_id: str
    field: str
    kind: str
    curated: str | None
    registry: str | None
    message: str


# Trials compared per round of queries: the reads stay a few per batch, and memory bounded,
# however many trials have a registry record.
BATCH_SIZE = 2_000
TRIAL_FIELDS = ("id", "nct_id", "phase", "status", "enrollment", "last_updated")
RECORD_FIELDS = (
    "nct_id",
    "phases",
    "overall_status",
    "enrollment",
    "enrollment_type",
    "interventions",
    "last_update_posted",
    "as_of",
)
NAME_FIELDS = ("name", "slug", "aliases")
# The curated fields a discrepancy can be on.
DISCREPANCY_FIELDS = ("phase", "status", "enrollment", "interventions", "last_updated")


def discrepancies(queryset: QuerySet | None = None) -> list[Discrepancy]:
    """The discrepancies of every trial in `queryset` (default: all) that has a registry record,
    in NCT number order.

    Trials, records and linked names are read as plain rows, only the fields compared, a batch
    at a time: model instances of every trial and its record (each with a dozen JSON fields)
    cost many times more, and their memory grew with the knowledge base."""
    ids = _recorded_ids(Trial.objects.all() if queryset is None else queryset)
    return [found for _, compared in _compared_batches(ids) for found in compared]


def discrepancy_rows(trial_ids: list[int] | None = None):
    """("field:kind", id) of each kind of discrepancy on each field of the trials `trial_ids`
    names (every trial where None): the options of the stored facet DISCREPANCIES."""
    if trial_ids is None:
        ids = _recorded_ids(Trial.objects.all())
    else:
        ids = [trial_id for (trial_id,) in RECORDED_AMONG(trial_ids)]
    for trial_id, compared in _compared_batches(ids):
        for value in dict.fromkeys(discrepancy_value(found) for found in compared):
            yield value, trial_id


def discrepancy_value(found: Discrepancy) -> str:
    return f"{found.field}:{found.kind}"


def differing_trials(*, kind: str = "", field: str = "") -> QuerySet:
    """The trials with a discrepancy of `kind` on `field` (either, where not given), found
    among the stored options (DISCREPANCIES) without deriving any trial's."""
    options = stored_options(DISCREPANCIES)
    if kind:
        options = options.filter(value__endswith=f":{kind}")
    if field:
        options = options.filter(value__startswith=f"{field}:")
    return Trial.objects.filter(pk__in=options.values("result_id"))


def _recorded_ids(trials: QuerySet, *, few: bool = False) -> QuerySet:
    """The ids of those of `trials` that have a registry record, in NCT number order; `few`
    where `trials` are a few (the trials a write touched)."""
    return trials.filter(recorded(Q(), few=few)).order_by("nct_id").values_list("pk", flat=True)


# After a write, those of the trials it touched that have a registry record: compiled once, as a
# page's relations are (its ORM build cost more than its query).
RECORDED_AMONG = IdsQuery(
    lambda ids: _recorded_ids(Trial.objects.filter(pk__in_ids=ids), few=True).values_list("pk")
)


def _compared_batches(ids: Iterable[int]):
    """(id, discrepancies) of each trial `ids` names, a batch at a time."""
    ids = list(ids)
    for start in range(0, len(ids), BATCH_SIZE):
        yield from _compared_batch(ids[start : start + BATCH_SIZE])


TRIALS = IdsQuery(
    lambda ids: Trial.objects.filter(pk__in_ids=ids).order_by("nct_id").values_list(*TRIAL_FIELDS)
)
RECORDS = IdsQuery(lambda ids: registry_records_of(ids).values_list(*RECORD_FIELDS))
LINKED_NAMES = IdsQuery(
    lambda ids: (
        TrialAgent.objects.filter(trial_id__in_ids=ids)
        .order_by()
        .values_list("trial_id", *(f"agent__{name}" for name in NAME_FIELDS))
        .union(
            Trial.nk_products.through.objects.filter(trial_id__in_ids=ids)
            .order_by()
            .values_list("trial_id", *(f"nkcellproduct__{name}" for name in NAME_FIELDS)),
            all=True,
        )
    )
)

# Which trials differ from their registry record, where and how, kept in the database: derived
# for every trial at registry scale, it costs more than a request may take.
DISCREPANCIES = DerivedFacet(
    "trials.discrepancies",
    discrepancy_rows,
    touched_trials,
    statements=(RECORDED_AMONG, TRIALS, RECORDS, LINKED_NAMES),
)


def _compared_batch(ids: list[int]):
    records = {row[0]: row_record(RECORD_FIELDS, row) for row in RECORDS(ids)}
    linked = defaultdict(list)
    for trial_id, *names in LINKED_NAMES(ids):
        linked[trial_id].append(row_record(NAME_FIELDS, names))
    for row in TRIALS(ids):
        trial = row_record(TRIAL_FIELDS, row)
        record = records.get(trial.nct_id)
        # A record deleted since the batch's ids were read leaves nothing to compare.
        yield trial.id, [] if record is None else _compared(trial, record, linked[trial.id])


def trial_discrepancies(trial: Trial, record: RegistryRecord | None) -> list[Discrepancy]:
    """Where `record` (the registry's) and `trial` (the curators') differ, field by field
    (reads the trial's prefetched agents and NK cell products)."""
    return discrepancies_of(trial, record, trial.trial_agents.all(), trial.nk_products.all())


def discrepancies_of(trial, record, agent_links, nk_products) -> list[Discrepancy]:
    """Where `record` and `trial` differ, for a trial with these agent links (each with its
    `agent`) and NK cell products: model instances, or plain rows with their fields (the API's
    read path, trials/api/reading.py)."""
    if record is None:
        return []
    return _compared(trial, record, [link.agent for link in agent_links] + list(nk_products))


def _compared(trial, record, linked: list) -> list[Discrepancy]:
    """Where `record` and `trial` differ, for a trial linked to these agents and NK cell
    products (anything with a name, slug and aliases)."""
    found = [
        *_phase(trial, record),
        *_status(trial, record),
        *_enrollment(trial, record),
        *_interventions(linked, record),
        *_updated(trial, record),
    ]
    return [Discrepancy(trial.nct_id, *discrepancy) for discrepancy in found]


def _as_of(record: RegistryRecord) -> str:
    return f"as of {record.as_of}" if record.as_of else "date unknown"


def _phase(trial: Trial, record: RegistryRecord):
    registry_phase = PHASE_FROM_REGISTRY.get(tuple(record.phases or ()))
    # A malformed curated value is validate_kb's to report, not a disagreement.
    if trial.phase not in PHASE_RANGES or registry_phase is None:
        return
    low, high = PHASE_RANGES[registry_phase]
    curated_low, curated_high = PHASE_RANGES[trial.phase]
    if curated_low == low and curated_high <= high:
        return
    registry = "/".join(RegistryPhase(code).label for code in record.phases)
    curated = Phase(trial.phase).label
    yield (
        "phase",
        DiscrepancyKind.CONFLICT,
        curated,
        registry,
        f"The review says phase {curated}; the registry ({_as_of(record)}) says {registry}.",
    )


def _status(trial: Trial, record: RegistryRecord):
    if trial.status not in TRIAL_STATUSES or record.overall_status is None:
        return
    if trial.status == record.overall_status:
        return
    curated = TrialStatus(trial.status).label
    registry = OverallStatus(record.overall_status).label
    if trial.status in FINISHED and record.overall_status in BEFORE_FINISH:
        yield (
            "status",
            DiscrepancyKind.BACKWARD,
            curated,
            registry,
            f"Curated as {curated}, but the registry ({_as_of(record)}) still shows {registry}: "
            "an older registry copy, or a trial reopened.",
        )
    else:
        yield (
            "status",
            DiscrepancyKind.CONFLICT,
            curated,
            registry,
            f"Curated as {curated}; the registry ({_as_of(record)}) shows {registry}.",
        )


def _enrollment(trial: Trial, record: RegistryRecord):
    if trial.enrollment is None or record.enrollment is None:
        return
    if trial.enrollment == record.enrollment:
        return
    registry = str(record.enrollment)
    if record.enrollment_type == Actuality.ACTUAL:
        kind, what = DiscrepancyKind.CONFLICT, "an actual enrollment of"
    elif record.enrollment_type == Actuality.ESTIMATED:
        kind, what = DiscrepancyKind.ESTIMATE, "an estimated (planned) enrollment of"
        registry += " (Estimated)"
    else:
        kind, what = DiscrepancyKind.UNTYPED, "an enrollment, neither actual nor estimated, of"
    yield (
        "enrollment",
        kind,
        str(trial.enrollment),
        registry,
        f"The review gives {trial.enrollment} participants; the registry ({_as_of(record)}) "
        f"gives {what} {record.enrollment}.",
    )


def _interventions(linked: list, record: RegistryRecord):
    index = {key for item in linked for name in names_of(item) for key in name_keys(name)}
    for intervention in record.interventions or ():
        for name in unlinked_names(intervention, index):
            yield (
                "interventions",
                DiscrepancyKind.UNLINKED,
                None,
                name,
                f"The registry lists {name!r}, which is no agent or NK cell product linked "
                "to the trial.",
            )


def _updated(trial: Trial, record: RegistryRecord):
    updated = record.last_update_posted or (record.as_of and record.as_of.isoformat())
    curated = trial.last_updated.date()
    # A month's date is after the curated day only if all of the month is.
    if updated and first_day(updated) > curated:
        yield (
            "last_updated",
            DiscrepancyKind.UPDATED,
            curated.isoformat(),
            updated,
            f"The registry record was updated on {updated}, after the curated data "
            f"({curated}): it may say something the review does not.",
        )
