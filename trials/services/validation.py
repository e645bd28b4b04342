"""Integrity checks of the whole knowledge base (`manage.py validate_kb`)."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import models

from agents.choices import AgentClass, TargetKind
from agents.models import Agent, NKCellProduct, Target
from nkkb.core.knowledge_base import knowledge_base_models
from nkkb.core.review import normalise_whitespace

from ..models import Condition, Result, Trial, TrialAgent
from .ctgov_import import REVIEW_PROVENANCE_FIELDS, registry_trial_ids


def record_key(record: models.Model) -> str:
    """How curators name a record: NCT number, slug, or the trial it belongs to."""
    if isinstance(record, Trial):
        return record.nct_id
    if isinstance(record, TrialAgent):
        return f"{record.trial.nct_id}/{record.agent.slug}"
    if isinstance(record, Result):
        return f"{record.trial.nct_id} result {record.pk}"
    return record.slug


# Classes that act by binding a target, so a record of one without a target is incomplete.
BINDING_AGENT_CLASSES = (AgentClass.TUMOR_TARGETING_MAB, AgentClass.ENGAGER)


@dataclass(frozen=True)
class KBProblem:
    model: str
    key: str
    field: str
    message: str

    def __str__(self):
        return f"{self.model} {self.key}: {self.field}: {self.message}"


def kb_validate(*, review=None) -> list[KBProblem]:
    """Every problem in the knowledge base, each naming its record and field.

    Checks each record as model validation would (formats, vocabularies, required provenance),
    each CHECK constraint in one query per constraint, the links a record needs, and, given the
    `review` (nkkb.core.review.Review), that provenance points at what the review says.
    """
    problems: dict[tuple[str, str, str], KBProblem] = {}

    def report(record, field: str, message: str):
        problem = KBProblem(type(record).__name__, record_key(record), field, message)
        problems.setdefault((problem.model, problem.key, problem.field), problem)

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
        for constraint in model._meta.constraints:
            if isinstance(constraint, models.CheckConstraint):
                fields = ", ".join(sorted(constraint.condition.referenced_base_fields))
                for record in queryset.exclude(constraint.condition):
                    report(record, fields, constraint.violation_error_message)

    for trial in Trial.objects.filter(agents__isnull=True, nk_products__isnull=True):
        report(trial, "agents", "The trial is linked to no agent and no NK cell product.")
    for condition in Condition.objects.filter(trials__isnull=True):
        report(condition, "trials", "No trial enrolls this condition.")
    for target in Target.objects.filter(
        kind=TargetKind.TUMOR_ANTIGEN, agents__isnull=True, nk_products__isnull=True
    ):
        report(target, "agents", "No agent or NK cell product targets this tumor antigen.")
    for agent in Agent.objects.filter(agent_class__in=BINDING_AGENT_CLASSES, targets__isnull=True):
        report(agent, "targets", f"A {agent.get_agent_class_display()} must name its target.")

    if review is not None:
        for record in _cited_records(exclude_trials=from_registry):
            if (type(record), record.pk) in malformed:
                continue
            for field, message in _review_mismatches(record, review):
                report(record, field, message)
    return sorted(problems.values(), key=lambda p: (p.model, p.key, p.field))


def _cited_records(*, exclude_trials: set[int]):
    yield from Target.objects.all()
    yield from Agent.objects.all()
    yield from NKCellProduct.objects.all()
    # An imported trial is checked against the review once a curator has cited a section.
    yield from Trial.objects.exclude(pk__in=exclude_trials, source_section="")
    yield from Result.objects.select_related("trial")


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
