"""Integrity checks of the whole knowledge base (`manage.py validate_kb`): errors, which a valid
knowledge base has none of, and warnings, slips a curator should look at (see `_warnings`)."""

import re
from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import models

from agents.choices import AgentClass, TargetKind
from agents.models import Agent, NKCellProduct, Target
from nkkb.core.knowledge_base import knowledge_base_models
from nkkb.core.limits import NUL_MESSAGE, contains_nul
from nkkb.core.review import normalise_whitespace
from registry.models import RegistryRecord, StudyCandidate

from ..choices import ROLES_WITHOUT_THERAPY_CLASS, CaveatSubject, ResultMetric
from ..models import (
    Caveat,
    Condition,
    PlacementBasis,
    Result,
    Trial,
    TrialAgent,
    condition_lineages,
)
from .candidates import REVIEW_PROVENANCE_FIELDS, registry_trial_ids


def record_key(record: models.Model) -> str:
    """How curators name a record: NCT number, slug, or the trial it belongs to."""
    if isinstance(record, Trial):
        return record.nct_id
    if isinstance(record, TrialAgent):
        return f"{record.trial.nct_id}/{record.agent.slug}"
    if isinstance(record, Result):
        return f"{record.trial.nct_id} result {record.pk}"
    if isinstance(record, Caveat):
        return f"{record.trial.nct_id} caveat {record.pk}"
    if isinstance(record, RegistryRecord):
        return record.nct_id
    if isinstance(record, StudyCandidate):
        return record.record.nct_id
    return record.slug


# Classes that act by binding a target, so a record of one without a target is incomplete.
BINDING_AGENT_CLASSES = (AgentClass.TUMOR_TARGETING_MAB, AgentClass.ENGAGER)


ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class KBProblem:
    model: str
    key: str
    field: str
    message: str
    # An error makes the knowledge base invalid; a warning asks a curator to look.
    severity: str = ERROR

    def __str__(self):
        prefix = "Warning: " if self.severity == WARNING else ""
        return f"{prefix}{self.model} {self.key}: {self.field}: {self.message}"


def kb_validate(*, review=None) -> list[KBProblem]:
    """Every problem in the knowledge base, each naming its record and field: the errors first,
    then the warnings.

    Checks each record as model validation would (formats, vocabularies, required provenance),
    each CHECK constraint in one query per constraint, the links a record needs, and, given the
    `review` (nkkb.core.review.Review), that provenance points at what the review says; warns
    about the slips `_warnings` describes.
    """
    problems: dict[tuple[str, str, str, str], KBProblem] = {}

    def report(record, field: str, message: str, severity: str = ERROR):
        problem = KBProblem(type(record).__name__, record_key(record), field, message, severity)
        problems.setdefault((severity, problem.model, problem.key, problem.field), problem)

    from_registry = set(registry_trial_ids())
    # Records with a malformed field: comparing them with the review would add only noise.
    malformed: set[tuple[type, int]] = set()
    for model in knowledge_base_models():
        relations = [field.name for field in model._meta.concrete_fields if field.is_relation]
        queryset = model.objects.select_related(*relations)  # for record_key()
        for record in queryset:
            # Foreign keys are left to the database, which enforces them without a query each.
            exclude = relations
            if isinstance(record, Trial) and record.pk in from_registry:
                exclude = [*relations, *REVIEW_PROVENANCE_FIELDS]
            try:
                record.clean_fields(exclude=exclude)
            except ValidationError as error:
                malformed.add((model, record.pk))
                for field, messages in error.message_dict.items():
                    for message in messages:
                        report(record, field, message)
            # Model validation lets a NUL character through (only forms refuse it).
            for field in model._meta.concrete_fields:
                if contains_nul(getattr(record, field.attname)):
                    malformed.add((model, record.pk))
                    report(record, field.name, NUL_MESSAGE)
        for constraint in model._meta.constraints:
            if isinstance(constraint, models.CheckConstraint):
                fields = ", ".join(sorted(constraint.condition.referenced_base_fields))
                for record in queryset.exclude(constraint.condition):
                    report(record, fields, constraint.violation_error_message)

    for trial in Trial.objects.filter(agents__isnull=True, nk_products__isnull=True):
        report(trial, "agents", "The trial is linked to no agent and no NK cell product.")
    for condition, message in _condition_tree_problems():
        report(condition, *message)
    for target in Target.objects.filter(
        kind=TargetKind.TUMOR_ANTIGEN, agents__isnull=True, nk_products__isnull=True
    ):
        report(target, "agents", "No agent or NK cell product targets this tumor antigen.")
    for agent in Agent.objects.filter(agent_class__in=BINDING_AGENT_CLASSES, targets__isnull=True):
        report(agent, "targets", f"A {agent.get_agent_class_display()} must name its target.")
    for link in TrialAgent.objects.filter(
        role__in=ROLES_WITHOUT_THERAPY_CLASS, trial__nk_products__isnull=True
    ).select_related("trial", "agent"):
        report(
            link,
            "role",
            f"{link.agent.name} is {link.get_role_display().lower()}, but the trial uses no NK "
            "cell product.",
        )
    for caveat in (
        Caveat.objects.filter(agent__isnull=False)
        .exclude(agent__trial_links__trial=models.F("trial"))
        .select_related("trial", "agent")
    ):
        report(caveat, "agent", f"{caveat.agent.name} is not one of the trial's agents.")

    if review is not None:
        for record in _cited_records(exclude_trials=from_registry):
            if (type(record), record.pk) in malformed:
                continue
            for field, message in _review_mismatches(record, review):
                report(record, field, message)
    for record, field, message in _warnings():
        report(record, field, message, WARNING)
    return sorted(problems.values(), key=lambda p: (p.severity != ERROR, p.model, p.key, p.field))


def _condition_tree_problems():
    """(condition, (field, message)) of each condition in a cycle of parents (or below one),
    which no top-level condition is above, and of each condition no trial is filed under,
    itself or below it."""
    lineages = condition_lineages()
    enrolled = set(Trial.conditions.through.objects.values_list("condition_id", flat=True))
    with_trials = {c.pk for pk in enrolled for c in lineages.get(pk, [])}
    groups = {lineage[-1].parent_id for lineage in lineages.values()}
    for lineage in lineages.values():
        condition, top = lineage[-1], lineage[0]
        if top.parent_id is not None:
            closing = lineages[top.parent_id][-1]
            cycle = " is under ".join(c.slug for c in [*lineage[::-1], closing])
            yield condition, ("parent", f"Its parents lead round a cycle ({cycle}).")
        if condition.pk not in with_trials:
            below = " or any condition below it" if condition.pk in groups else ""
            yield condition, ("trials", f"No trial enrolls this condition{below}.")


def _cited_records(*, exclude_trials: set[int]):
    yield from Condition.objects.filter(placement_basis=PlacementBasis.REVIEW)
    yield from Target.objects.all()
    yield from Agent.objects.all()
    yield from NKCellProduct.objects.all()
    # An imported trial is checked against the review once a curator has cited a section.
    yield from Trial.objects.exclude(pk__in=exclude_trials, source_section="")
    yield from Result.objects.select_related("trial")
    yield from Caveat.objects.select_related("trial")


def _review_mismatches(record, review):
    section = record.source_section
    if section not in review.sections:
        yield "source_section", f"The review has no section {section!r}."
        return
    if normalise_whitespace(record.source_quote) not in review.section_text(section):
        yield "source_quote", f"The quote is not verbatim in section {section} of the review."
    uncited = sorted(set(record.source_references) - review.citations(section))
    if uncited:
        yield "source_references", f"Section {section} does not cite {uncited}."
    if isinstance(record, Trial) and record.nct_id not in review.sections[section]:
        yield "source_section", f"Section {section} does not mention {record.nct_id}."
    if normalise_whitespace(record.source_summary) == normalise_whitespace(record.source_quote):
        yield "source_summary", "The summary repeats the quote; say it in your own words."


# A bracket holding more than one word reads as a note to the reader ("(target assigned by list
# order)"); a single word is an abbreviation or alias ("(mbIL-15)"), which a title may carry.
BRACKETED_NOTE = re.compile(r"[(\[]\s*([^\s()\[\]]+\s+[^()\[\]]*?)\s*[)\]]")

# The words a quote uses for each metric, and which metrics are told apart by words alone: a
# quote that names none of its metric's words but one of a neighbour's ("severe" under serious
# adverse events, "remission" under complete response) is probably filed under the wrong one.
METRIC_WORDS = {
    ResultMetric.SAE: ("serious",),
    ResultMetric.SEVERE_AE: ("severe",),
    ResultMetric.CR: ("complete response", "complete responses", "cr"),
    ResultMetric.PR: ("partial response", "partial responses", "pr"),
    ResultMetric.ORR: ("overall response", "response rate", "orr", "responded"),
    ResultMetric.REMISSION: ("remission", "remissions"),
    ResultMetric.RFS: ("relapse-free", "relapse free", "rfs"),
    ResultMetric.PFS: ("progression-free", "progression free", "pfs"),
    ResultMetric.EFS: ("event-free", "event free", "efs"),
    ResultMetric.DISEASE_FREE: ("disease-free", "disease free", "dfs"),
}
CONFUSABLE_METRICS = (
    (ResultMetric.SAE, ResultMetric.SEVERE_AE),
    (ResultMetric.CR, ResultMetric.PR, ResultMetric.ORR, ResultMetric.REMISSION),
    (ResultMetric.RFS, ResultMetric.PFS, ResultMetric.EFS, ResultMetric.DISEASE_FREE),
)

# What in an agent link's `detail` says the link is our reading rather than the review's words.
CAVEAT_WORDING = re.compile(
    r"\b(implied|inferred|assumed|assigned by|not stated|does not say|unclear|"
    r"as named by the review|spelled|named collectively|per-trial)\b",
    re.IGNORECASE,
)


def _words_in(text: str, words) -> list[str]:
    return [w for w in words if re.search(rf"\b{re.escape(w)}\b", text, re.IGNORECASE)]


def _warnings():
    """(record, field, message) of each slip the audit of issue 18 found, as a rule:

    - title: the same title (ignoring case and spacing) on several trials, which lists and
      search results cannot tell apart;
    - title: a bracket of more than one word (BRACKETED_NOTE), a curator's note in a public title;
    - metric: a result whose quote uses a word of a confusable metric and none of its own
      (METRIC_WORDS, CONFUSABLE_METRICS);
    - detail: an agent link whose detail reads like a caveat on our reading (CAVEAT_WORDING:
      "implied", "assigned by", "not stated"...) while no caveat on the trial's agents (all of
      them, or that agent) shows it.
    """
    trials_by_title = defaultdict(list)
    for trial in Trial.objects.only("nct_id", "title"):
        trials_by_title[" ".join(trial.title.casefold().split())].append(trial)
        note = BRACKETED_NOTE.search(trial.title)
        if note:
            yield (
                trial,
                "title",
                f"{note.group(0)!r} reads like a curator's note; record it as a caveat.",
            )
    for trials in trials_by_title.values():
        for trial in trials:
            others = ", ".join(t.nct_id for t in trials if t != trial)
            if others:
                yield trial, "title", f"The same title names {others}; say what tells it apart."

    neighbours = {
        metric: [other for other in group if other != metric]
        for group in CONFUSABLE_METRICS
        for metric in group
    }
    for result in Result.objects.filter(metric__in=neighbours).select_related("trial"):
        if _words_in(result.source_quote, METRIC_WORDS[result.metric]):
            continue
        for other in neighbours[result.metric]:
            used = _words_in(result.source_quote, METRIC_WORDS[other])
            if used:
                yield (
                    result,
                    "metric",
                    f"The quote says {used[0]!r}, which names {ResultMetric(other).label!r}, "
                    f"not {result.get_metric_display()!r}.",
                )
                break

    shown = set(
        Caveat.objects.filter(qualifies=CaveatSubject.AGENTS).values_list("trial_id", "agent_id")
    )
    for link in (
        TrialAgent.objects.exclude(detail=None).exclude(detail="").select_related("trial", "agent")
    ):
        wording = CAVEAT_WORDING.search(link.detail)
        if wording and not shown & {(link.trial_id, None), (link.trial_id, link.agent_id)}:
            yield (
                link,
                "detail",
                f"{wording.group(0)!r} reads like a caveat on our reading; record it as a caveat "
                "on the trial's agents, which the page and the API show as one.",
            )
