"""Trials read for the API as plain rows (`values()`), not model instances: the trial list, its
CSV and a trial's record.

TrialSerializer stays the definition of the representation: the records built here hold what
its fields read, under the names they read it by, and nkkb.core.api.serializers'
PlainRepresentation formats them with the serializer's own fields (tests/test_read_path.py holds
the two equal). What is derived (therapy classes, compatibility warnings, discrepancies) comes
from the rule functions a model instance uses. The trials' rows, and each relation that the
requested fields need (`TrialSerializer.Meta.field_relations`), are read by one query each by
the trials' ids (on PostgreSQL all of them in one function call: TRIAL_RELATIONS; for a trial
read by its NCT number, a second function reads its row by that number), and each agent,
product or condition becomes one plain record however many trials share it.
"""

import functools
from collections import defaultdict
from types import SimpleNamespace

from django.db.models import QuerySet

from agents.compatibility import CompatibilityWarning
from agents.models import Agent, NKCellProduct, Target
from nkkb.core.queries import IdsQueries, IdsQuery, KeyQuery, row_record
from registry.api.serializers import RegistryRecordSerializer

from ..discrepancies import Discrepancy, discrepancies_of
from ..models import (
    Caveat,
    Condition,
    Result,
    Trial,
    TrialAgent,
    compatibility_warnings_of,
    registry_records_of,
    therapy_classes_of,
)
from .serializers import CaveatSerializer, ResultSerializer, TrialSerializer

TRIAL_COLUMNS = tuple(field.attname for field in Trial._meta.concrete_fields)
# What the agents' and products' fields, the compatibility rules and the discrepancies read.
AGENT_COLUMNS = ("name", "slug", "agent_class", "platform", "acts_through_cd16", "aliases")
PRODUCT_COLUMNS = ("name", "slug", "cd16_status", "aliases")
CONDITION_COLUMNS = ("name", "slug")


class TrialRow(SimpleNamespace):
    """A trial as plain values: its columns and the relations read, named as on the model, with
    the model's own rules for its links and its derived fields."""

    get_absolute_url = Trial.get_absolute_url
    ctgov_url = Trial.ctgov_url

    @property
    def pk(self):
        return self.id

    @property
    def therapy_classes(self) -> list[str]:
        return therapy_classes_of(self.trial_agents, self.nk_products)

    @property
    def compatibility_warnings(self) -> list[CompatibilityWarning]:
        return compatibility_warnings_of(self.trial_agents, self.nk_products)

    @property
    def discrepancies(self) -> list[Discrepancy]:
        return discrepancies_of(self, self.registry_record, self.trial_agents, self.nk_products)


def trial_rows(queryset):
    """The trials of `queryset` as `values()` rows of their own columns."""
    return queryset.prefetch_related(None).values(*TRIAL_COLUMNS)


def trial_records(page: list[dict] | list[int], fields) -> list[TrialRow]:
    """The trials of `page` (rows of their own columns, or their ids), in its order, with the
    relations that `fields` (names of TrialSerializer fields) read: all together by the trials'
    ids (TRIAL_RELATIONS; on PostgreSQL one statement), with the trials' rows where `page` is
    ids; no relation for fields of the trial's own columns. A trial deleted since its id was
    read is left out."""
    if not page:
        return []
    relations = _relations(fields)
    if isinstance(page[0], dict):
        trials = [TrialRow(**row) for row in page]
        found = TRIAL_RELATIONS([trial.id for trial in trials], relations)
    else:
        found = TRIAL_RELATIONS(page, {"trials", *relations})
        rows = TRIAL_ROWS.compiled().named(found["trials"])
        read = {row["id"]: TrialRow(**row) for row in rows}
        trials = [read[trial_id] for trial_id in page if trial_id in read]
    _relate(trials, found)
    return trials


def trial_record(nct_id: str, fields) -> TrialRow | None:
    """The trial `nct_id` as trial_records gives it, its row read with its relations (on
    PostgreSQL in one statement), or None where there is none."""
    row, found = TRIAL_RELATIONS.record(nct_id, _relations(fields))
    if row is None:
        return None
    trial = TrialRow(**row)
    _relate([trial], found)
    return trial


def rows_read_with_relations(fields) -> bool:
    """Whether trial_records, given ids, reads the trials' rows in the statement that reads the
    relations `fields` read (on PostgreSQL, where they read any)."""
    return TRIAL_RELATIONS.in_one_statement and bool(_relations(fields))


def _relations(fields) -> set[str]:
    """The names of the TRIAL_RELATIONS that `fields` read."""
    relations = {
        relation
        for name in fields
        for relation in TrialSerializer.Meta.field_relations.get(name, ())
    }
    if "trial_agents" in relations:
        relations.add("link_agents")
        if "agents" in fields:
            relations.add("agent_targets")
    return relations


def _relate(trials: list[TrialRow], found: dict[str, list[tuple]]) -> None:
    """Give each of `trials` its rows of the relations `found` ({name: rows})."""
    related = {}
    if "conditions" in found:
        related["conditions"] = _conditions(found["conditions"])
    if "trial_agents" in found:
        related["trial_agents"] = _agent_links(
            found["trial_agents"], found["link_agents"], found.get("agent_targets")
        )
    if "nk_products" in found:
        related["nk_products"] = _nk_products(found["nk_products"])
    if "results" in found:
        related["results"] = _results(found["results"])
    if "caveats" in found:
        related["caveats"] = _caveats(found["caveats"])
    for name, by_trial in related.items():
        for trial in trials:
            setattr(trial, name, by_trial.get(trial.id, []))
    if "registry_record" in found:
        records = _registry_records(found["registry_record"])
        for trial in trials:
            trial.registry_record = records.get(trial.nct_id)


def _ordering(relation: str, model) -> list[str]:
    """`model`'s default ordering through `relation`: the order its prefetch lists records in."""
    return [
        f"-{relation}__{name[1:]}" if name.startswith("-") else f"{relation}__{name}"
        for name in model._meta.ordering
    ]


def _shared(records: dict, key: int, columns, values) -> SimpleNamespace:
    """The one plain record of an agent, product or condition, however many trials list it."""
    if key not in records:
        records[key] = row_record(columns, values)
    return records[key]


CONDITION_LINKS = IdsQuery(
    lambda ids: (
        Trial.conditions.through.objects.filter(trial_id__in_ids=ids)
        .order_by(*_ordering("condition", Condition))
        .values_list("trial_id", "condition_id", *(f"condition__{c}" for c in CONDITION_COLUMNS))
    )
)


def _conditions(rows) -> dict[int, list[SimpleNamespace]]:
    conditions, by_trial = {}, defaultdict(list)
    for trial_id, condition_id, *condition in rows:
        by_trial[trial_id].append(_shared(conditions, condition_id, CONDITION_COLUMNS, condition))
    return by_trial


# A trial's links, results and caveats in their model's order; the trials in any order (they are
# grouped here), so not sorted by NCT number, which joined every row to its trial. The links'
# agents are read apart, each once: a page's links name a few agents many times.
AGENT_LINKS = IdsQuery(
    lambda ids: (
        TrialAgent.objects.filter(trial_id__in_ids=ids)
        .order_by("trial_id", "agent__name")
        .values_list("trial_id", "role", "detail", "agent_id")
    )
)


def _linked_agent_ids(ids) -> QuerySet:
    """The ids of the agents that the trials `ids` give."""
    return TrialAgent.objects.filter(trial_id__in_ids=ids).values("agent_id")


LINK_AGENTS = IdsQuery(
    lambda ids: (
        Agent.objects.filter(pk__in=_linked_agent_ids(ids))
        .order_by()
        .values_list("id", *AGENT_COLUMNS)
    )
)
# The targets of the agents of the trials `ids`.
AGENT_TARGETS = IdsQuery(
    lambda ids: (
        Agent.targets.through.objects.filter(agent_id__in=_linked_agent_ids(ids))
        .order_by(*_ordering("target", Target))
        .values_list("agent_id", "target__name", "target__slug")
    )
)


def _agent_links(rows, agent_rows, target_rows) -> dict[int, list[SimpleNamespace]]:
    """Each trial's agent links (in TrialAgent's order), each with its agent and, where
    `target_rows` are read, the agent's targets."""
    agents = {agent_id: row_record(AGENT_COLUMNS, agent) for agent_id, *agent in agent_rows}
    by_trial = defaultdict(list)
    for trial_id, role, detail, agent_id in rows:
        by_trial[trial_id].append(SimpleNamespace(role=role, detail=detail, agent=agents[agent_id]))
    if target_rows is not None:
        for agent in agents.values():
            agent.targets = []
        for agent_id, name, slug in target_rows:
            agents[agent_id].targets.append(SimpleNamespace(name=name, slug=slug))
    return by_trial


PRODUCT_LINKS = IdsQuery(
    lambda ids: (
        Trial.nk_products.through.objects.filter(trial_id__in_ids=ids)
        .order_by(*_ordering("nkcellproduct", NKCellProduct))
        .values_list(
            "trial_id", "nkcellproduct_id", *(f"nkcellproduct__{c}" for c in PRODUCT_COLUMNS)
        )
    )
)


def _nk_products(rows) -> dict[int, list[SimpleNamespace]]:
    products, by_trial = {}, defaultdict(list)
    for trial_id, product_id, *product in rows:
        by_trial[trial_id].append(_shared(products, product_id, PRODUCT_COLUMNS, product))
    return by_trial


RESULTS = IdsQuery(
    lambda ids: (
        Result.objects.filter(trial_id__in_ids=ids)
        .order_by("trial_id", "id")
        .values_list("trial_id", *_result_columns())
    )
)


def _results(rows) -> dict[int, list[SimpleNamespace]]:
    by_trial = defaultdict(list)
    for trial_id, *result in rows:
        by_trial[trial_id].append(row_record(_result_columns(), result))
    return by_trial


CAVEATS = IdsQuery(
    lambda ids: (
        Caveat.objects.filter(trial_id__in_ids=ids)
        .order_by("trial_id", "id")
        .values_list("trial_id", "agent__slug", *_caveat_columns())
    )
)


def _caveats(rows) -> dict[int, list[SimpleNamespace]]:
    """Each trial's caveats, each with its agent's slug if it names one."""
    by_trial = defaultdict(list)
    for trial_id, slug, *caveat in rows:
        agent = SimpleNamespace(slug=slug) if slug is not None else None
        by_trial[trial_id].append(row_record(_caveat_columns(), caveat, agent=agent))
    return by_trial


REGISTRY_RECORDS = IdsQuery(lambda ids: registry_records_of(ids).values_list(*_registry_columns()))


def _registry_records(rows) -> dict[str, SimpleNamespace]:
    records = (row_record(_registry_columns(), row) for row in rows)
    return {record.nct_id: record for record in records}


# A trial's own columns, by its NCT number.
TRIAL_BY_NCT_ID = KeyQuery(lambda nct_id: trial_rows(Trial.objects.filter(nct_id=nct_id)))
# Trials' own columns, by their ids, in any order.
TRIAL_ROWS = IdsQuery(lambda ids: trial_rows(Trial.objects.filter(pk__in_ids=ids)).order_by())

# The trials' rows and the relations a trial's representation may read, each by the trials'
# ids, or the relations with the trial's row by its NCT number.
TRIAL_RELATIONS = IdsQueries(
    "trial_relations",
    {
        "trials": TRIAL_ROWS,
        "conditions": CONDITION_LINKS,
        "trial_agents": AGENT_LINKS,
        "link_agents": LINK_AGENTS,
        "agent_targets": AGENT_TARGETS,
        "nk_products": PRODUCT_LINKS,
        "results": RESULTS,
        "caveats": CAVEATS,
        "registry_record": REGISTRY_RECORDS,
    },
    by_key=TRIAL_BY_NCT_ID,
)


def _columns(serializer) -> list[str]:
    """The model fields a serializer's fields read (a nested serializer of the same record's
    included): what its plain record must hold."""
    columns = []
    for field in serializer.fields.values():
        columns += _columns(field) if field.source == "*" else [field.source]
    return columns


@functools.cache
def _result_columns() -> list[str]:
    return _columns(ResultSerializer())


@functools.cache
def _caveat_columns() -> list[str]:
    return [column for column in _columns(CaveatSerializer()) if column != "agent"]


@functools.cache
def _registry_columns() -> list[str]:
    # Neither the payload as received nor the sources' conflicts: the API does not serve them.
    return _columns(RegistryRecordSerializer())
