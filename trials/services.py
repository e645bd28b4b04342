"""Workflows on the knowledge base as a whole: the seed, integrity checks, imports, releases."""

import csv
import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core import serializers
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone
from django.utils.text import slugify

from agents.choices import AgentClass, TargetKind
from agents.models import Agent, NKCellProduct, Target
from nkkb.review import normalise_whitespace

from .choices import Phase, TrialStatus
from .models import NCT_ID_MESSAGE, NCT_ID_PATTERN, Condition, Result, Trial, TrialAgent

PROVENANCE_FIELDS = {
    "section": "source_section",
    "references": "source_references",
    "quote": "source_quote",
    "summary": "source_summary",
}
PHASE_BY_LABEL = {label: value for value, label in Phase.choices}


class SeedError(Exception):
    """The seed is broken; `problems` says where and how. Nothing was written."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class SeedReport:
    loaded: bool
    counts: dict[str, int]


def knowledge_base_counts() -> dict[str, int]:
    return {
        "trials": Trial.objects.count(),
        "agents": Agent.objects.count(),
        "nk_products": NKCellProduct.objects.count(),
        "targets": Target.objects.count(),
        "conditions": Condition.objects.count(),
        "results": Result.objects.count(),
    }


def seed_load(*, directory: Path) -> SeedReport:
    """Load the curated seed in `directory` into an empty knowledge base, all or nothing.

    A knowledge base that already holds records is left alone: the seed is a starting point,
    and reloading it over curators' later edits would undo them.
    """
    if any(knowledge_base_counts().values()):
        return SeedReport(loaded=False, counts=knowledge_base_counts())
    loader = _SeedLoader(directory)
    with transaction.atomic():
        loader.load()
        if loader.problems:
            transaction.set_rollback(True)
    if loader.problems:
        raise SeedError(loader.problems)
    return SeedReport(loaded=True, counts=knowledge_base_counts())


class _SeedLoader:
    def __init__(self, directory: Path):
        self.directory = directory
        self.problems: list[str] = []

    def load(self):
        self._load_named(Target, "targets.yaml", relations={})
        self._load_named(Agent, "agents.yaml", relations={"targets": Target})
        self._load_named(NKCellProduct, "nk_products.yaml", relations={"targets": Target})
        for location, entry in self._entries("trials.yaml"):
            self._load_trial(location, entry)

    def _entries(self, filename: str):
        path = self.directory / filename
        try:
            entries = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as error:
            self.problems.append(f"{filename}: cannot be read ({error.strerror}).")
            return
        except yaml.YAMLError as error:
            self.problems.append(f"{filename}: is not valid YAML ({error}).")
            return
        if not isinstance(entries, list):
            self.problems.append(f"{filename}: must be a list of entries.")
            return
        for index, entry in enumerate(entries, start=1):
            key = entry.get("nct_id") or entry.get("slug") if isinstance(entry, dict) else None
            location = f"{filename} entry {index}" + (f" ({key})" if key else "")
            if isinstance(entry, dict):
                yield location, entry
            else:
                self.problems.append(f"{location}: must be a mapping of fields.")

    def _load_named(self, model, filename: str, *, relations: dict[str, type[models.Model]]):
        for location, entry in self._entries(filename):
            entry = dict(entry)
            related = {field: entry.pop(field, []) for field in relations}
            instance = self._save(model, location, entry)
            if instance is not None:
                for field, related_model in relations.items():
                    getattr(instance, field).set(
                        self._lookup(related_model, related[field], location, field)
                    )

    def _load_trial(self, location: str, entry: dict):
        entry = dict(entry)
        conditions = entry.pop("conditions", [])
        agent_links = entry.pop("agents", [])
        products = entry.pop("nk_products", [])
        results = entry.pop("results", [])
        phase = entry.pop("phase", None)
        if phase is not None:
            if phase in PHASE_BY_LABEL:
                entry["phase"] = PHASE_BY_LABEL[phase]
            else:
                # Reported here, in the seed's own labels; the rest of the entry is still checked.
                self.problems.append(
                    f"{location}: phase {phase!r} is not one of {', '.join(PHASE_BY_LABEL)}."
                )
        trial = self._save(Trial, location, entry)
        if trial is None:
            return
        trial.conditions.set(self._conditions(conditions, location))
        trial.nk_products.set(self._lookup(NKCellProduct, products, location, "nk_products"))
        for link in agent_links:
            link = dict(link)
            agents = self._lookup(Agent, [link.pop("agent", None)], location, "agents")
            if agents:
                self._save(TrialAgent, location, {"trial": trial, "agent": agents[0], **link})
        for index, result in enumerate(results, start=1):
            result = dict(result)
            try:
                result["value"] = Decimal(str(result.get("value")))
            except InvalidOperation:
                self.problems.append(f"{location} result {index}: value must be a number.")
                continue
            self._save(Result, f"{location} result {index}", {"trial": trial, **result})

    def _save(self, model, location: str, entry: dict):
        """Validate like a form would, then save; report any problem at `location`."""
        fields = dict(entry)
        provenance = fields.pop("provenance", None)
        if provenance is not None:
            if not isinstance(provenance, dict) or set(provenance) - set(PROVENANCE_FIELDS):
                self.problems.append(
                    f"{location}: provenance takes only {', '.join(PROVENANCE_FIELDS)}."
                )
                return None
            fields.update({PROVENANCE_FIELDS[key]: value for key, value in provenance.items()})
        known = {field.name for field in model._meta.concrete_fields}
        unknown = sorted(set(fields) - known)
        if unknown:
            self.problems.append(f"{location}: unknown field(s) {', '.join(unknown)}.")
            return None
        instance = model(**fields)
        try:
            instance.full_clean()
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                label = "" if field == "__all__" else f"{field}: "
                self.problems.extend(f"{location}: {label}{message}" for message in messages)
            return None
        instance.save()
        return instance

    def _lookup(self, model, slugs, location: str, field: str) -> list:
        if not isinstance(slugs, list):
            self.problems.append(f"{location}: {field} must be a list of slugs.")
            return []
        found = {obj.slug: obj for obj in model.objects.filter(slug__in=[s for s in slugs if s])}
        missing = [slug for slug in slugs if slug not in found]
        if missing:
            self.problems.append(
                f"{location}: {field} names unknown {model._meta.verbose_name} "
                f"{', '.join(map(str, missing))}."
            )
        return [found[slug] for slug in slugs if slug in found]

    def _conditions(self, names, location: str) -> list[Condition]:
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            self.problems.append(f"{location}: conditions must be a list of names.")
            return []
        conditions = []
        for name in names:
            condition, _ = Condition.objects.get_or_create(
                slug=slugify(name), defaults={"name": name}
            )
            if condition.name != name:
                self.problems.append(
                    f"{location}: condition {name!r} differs from {condition.name!r} "
                    "only in spelling; use one."
                )
            conditions.append(condition)
        return conditions


# Curator workflows: integrity checks, ClinicalTrials.gov import, data releases, curator accounts.

CURATORS_GROUP = "curators"
CTGOV_IMPORT_USERNAME = "ctgov-import"
CTGOV_CHANGE_REASON = "ClinicalTrials.gov import"
KNOWLEDGE_BASE_MODELS: tuple[type[models.Model], ...] = (
    Target,
    Agent,
    NKCellProduct,
    Condition,
    Trial,
    TrialAgent,
    Result,
)
# Provenance that points into the review; a trial imported from the registry has none.
REVIEW_PROVENANCE_FIELDS = ("source_section", "source_quote")


class ProblemsError(Exception):
    """A workflow found problems (`problems` says where and how) and wrote nothing."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def record_key(record: models.Model) -> str:
    """How curators name a record: NCT number, slug, or the trial it belongs to."""
    if isinstance(record, Trial):
        return record.nct_id
    if isinstance(record, TrialAgent):
        return f"{record.trial.nct_id}/{record.agent.slug}"
    if isinstance(record, Result):
        return f"{record.trial.nct_id} result {record.pk}"
    return record.slug


def _with_relations(queryset: models.QuerySet) -> models.QuerySet:
    """`queryset` with its foreign keys joined and many-to-many fields prefetched."""
    meta = queryset.model._meta
    foreign_keys = [field.name for field in meta.concrete_fields if field.is_relation]
    return queryset.select_related(*foreign_keys).prefetch_related(
        *(field.name for field in meta.many_to_many)
    )


def registry_trial_ids() -> models.QuerySet:
    """Ids of trials the ClinicalTrials.gov import created: their provenance is the registry."""
    return Trial.history.filter(
        history_type="+", history_user__username=CTGOV_IMPORT_USERNAME
    ).values_list("id", flat=True)


# Knowledge-base validation


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
    `review` (nkkb.review.Review), that provenance points at what the review says.
    """
    problems: dict[tuple[str, str, str], KBProblem] = {}

    def report(record, field: str, message: str):
        problem = KBProblem(type(record).__name__, record_key(record), field, message)
        problems.setdefault((problem.model, problem.key, problem.field), problem)

    from_registry = set(registry_trial_ids())
    # Records with a malformed field: comparing them with the review would add only noise.
    malformed: set[tuple[type, int]] = set()
    for model in KNOWLEDGE_BASE_MODELS:
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


# ClinicalTrials.gov import (API v2 study records)

# CT.gov's phase lists, onto the review's phases. "Early Phase 1" (exploratory, first in human)
# has no phase of its own in the review's vocabulary; it is the start of phase I.
PHASE_FROM_CTGOV: dict[tuple[str, ...], str | None] = {
    ("EARLY_PHASE1",): Phase.I,
    ("PHASE1",): Phase.I,
    ("PHASE1", "PHASE2"): Phase.I_II,
    ("PHASE2",): Phase.II,
    ("PHASE2", "PHASE3"): Phase.II_III,
    ("PHASE3",): Phase.III,
    ("PHASE4",): Phase.IV,
    ("NA",): None,
    (): None,
}
# Curated phases that say what CT.gov says, only more precisely: never a difference.
PHASE_REFINEMENTS: dict[str, set[str]] = {
    Phase.I: {Phase.IB},
    Phase.I_II: {Phase.I_IIA, Phase.IB_II},
}
CTGOV_DATE = re.compile(r"^(?P<year>\d{4})(-\d{2}){0,2}$")
# Fields the registry is the authority on. Title and conditions are curated in our own words
# and agents are curated links: the import sets them on new trials only.
REGISTRY_FIELDS = ("phase", "status", "enrollment", "start_year")


@dataclass(frozen=True)
class CtgovStudy:
    source: str
    nct_id: str
    title: str
    status: str | None
    phase: str | None
    start_year: int | None
    enrollment: int | None
    conditions: tuple[str, ...]
    interventions: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class FieldChange:
    field: str
    current: object
    registry: object

    def __str__(self):
        current, registry = _shown(self.field, self.current), _shown(self.field, self.registry)
        return f"{self.field}: {current} -> {registry}"


def _shown(field: str, value) -> str:
    if value is None:
        return "(empty)"
    choices = dict(Trial._meta.get_field(field).choices or ())
    return str(choices.get(value, value))


@dataclass
class CtgovImportReport:
    applied: bool
    created: dict[str, CtgovStudy] = field(default_factory=dict)
    changed: dict[str, list[FieldChange]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    unlinked: dict[str, list[str]] = field(default_factory=dict)


def ctgov_import(
    *,
    paths: Sequence[Path],
    apply: bool = False,
    progress: Callable[[Sequence[Path]], Iterable[Path]] = lambda paths: paths,
) -> CtgovImportReport:
    """Import ClinicalTrials.gov study records (API v2 JSON), all or nothing.

    New trials are created. For trials already in the knowledge base the registry's phase,
    status, enrollment and start year are compared with the curated values; the differences are
    written only when `apply` is true. Every write is recorded in history as the import user's.
    Raises ProblemsError, naming file and field, for anything malformed; nothing is written then.
    """
    studies: list[CtgovStudy] = []
    problems: list[str] = []
    for path in progress(paths):
        read, found = _read_ctgov_file(path)
        studies += read
        problems += found
    first_source: dict[str, str] = {}
    for study in studies:
        if study.nct_id in first_source:
            problems.append(
                f"{study.source}: {study.nct_id} is also in {first_source[study.nct_id]}."
            )
        first_source.setdefault(study.nct_id, study.source)
    if problems:
        raise ProblemsError(problems)

    report = CtgovImportReport(applied=apply)
    with transaction.atomic():
        importer = _CtgovImporter(report, apply=apply)
        for study in studies:
            importer.import_study(study)
        if importer.problems:
            transaction.set_rollback(True)
    if importer.problems:
        raise ProblemsError(importer.problems)
    return report


def _read_ctgov_file(path: Path) -> tuple[list[CtgovStudy], list[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        return [], [f"{path}: cannot be read ({error.strerror})."]
    except UnicodeDecodeError:
        return [], [f"{path}: is not UTF-8 text."]
    except json.JSONDecodeError as error:
        return [], [f"{path}: is not valid JSON (line {error.lineno}: {error.msg})."]
    if isinstance(data, dict) and "studies" in data:
        if not isinstance(data["studies"], list):
            return [], [f"{path}: studies: must be a list of study records."]
        records = [(f"studies[{index}].", study) for index, study in enumerate(data["studies"])]
    elif isinstance(data, dict) and "protocolSection" in data:
        records = [("", data)]
    else:
        return [], [
            f"{path}: is neither a study record (protocolSection) nor a page of them (studies)."
        ]
    studies, problems = [], []
    for prefix, record in records:
        reader = _StudyReader(path, prefix, record)
        study = reader.study(source=f"{path} {prefix}".rstrip(". "))
        problems += reader.problems
        if study is not None:
            studies.append(study)
    return studies, problems


class _StudyReader:
    """Reads one study record, noting every malformed field by its path in the record."""

    def __init__(self, path: Path, prefix: str, record):
        self.path = path
        self.prefix = prefix
        self.record = record
        self.problems: list[str] = []

    def problem(self, field: str, message: str):
        where = f"{self.prefix}{field}".rstrip(".")
        self.problems.append(
            f"{self.path}: {where}: {message}" if where else f"{self.path}: {message}"
        )

    def get(self, path: str, kind: type, *, required=False):
        value = self.record
        for part in path.split("."):
            if not isinstance(value, dict) or value.get(part) is None:
                if required:
                    self.problem(path, "is missing.")
                return None
            value = value[part]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problem(path, f"must be {_KIND_NAMES[kind]}, not {value!r}.")
            return None
        return value

    def strings(self, path: str) -> list[str]:
        values = self.get(path, list) or []
        if not all(isinstance(value, str) and value.strip() for value in values):
            self.problem(path, "must be a list of non-empty texts.")
            return []
        return [value.strip() for value in values]

    def study(self, *, source: str) -> CtgovStudy | None:
        if not isinstance(self.record, dict):
            self.problem("", "must be a study record (an object).")
            return None
        nct_id = self.get("protocolSection.identificationModule.nctId", str, required=True)
        if nct_id is not None and not re.fullmatch(NCT_ID_PATTERN, nct_id):
            self.problem("protocolSection.identificationModule.nctId", NCT_ID_MESSAGE)
        title = self.get("protocolSection.identificationModule.briefTitle", str, required=True)
        status = self.get("protocolSection.statusModule.overallStatus", str)
        if status is not None and status not in TrialStatus.values:
            self.problem(
                "protocolSection.statusModule.overallStatus",
                f"{status!r} is not one of {', '.join(TrialStatus.values)}.",
            )
        phases = tuple(sorted(set(self.strings("protocolSection.designModule.phases"))))
        if phases not in PHASE_FROM_CTGOV:
            self.problem(
                "protocolSection.designModule.phases",
                f"{list(phases)} is not a ClinicalTrials.gov phase (EARLY_PHASE1, PHASE1, PHASE2, "
                "PHASE3, PHASE4, NA, or PHASE1 with PHASE2, or PHASE2 with PHASE3).",
            )
        enrollment = self.get("protocolSection.designModule.enrollmentInfo.count", int)
        if enrollment is not None and enrollment < 0:
            self.problem("protocolSection.designModule.enrollmentInfo.count", "is negative.")
        start = self.get("protocolSection.statusModule.startDateStruct.date", str)
        if start is not None and not CTGOV_DATE.match(start):
            self.problem(
                "protocolSection.statusModule.startDateStruct.date",
                f"{start!r} is not a date such as 2021-03 or 2021-03-15.",
            )
        conditions = self.strings("protocolSection.conditionsModule.conditions")
        interventions = []
        path = "protocolSection.armsInterventionsModule.interventions"
        for index, intervention in enumerate(self.get(path, list) or []):
            name = intervention.get("name") if isinstance(intervention, dict) else None
            if not isinstance(name, str) or not name.strip():
                self.problem(f"{path}[{index}].name", "is missing.")
                continue
            other_names = intervention.get("otherNames") or []
            if not isinstance(other_names, list) or not all(
                isinstance(other, str) for other in other_names
            ):
                self.problem(f"{path}[{index}].otherNames", "must be a list of texts.")
                continue
            interventions.append((name.strip(), *(other.strip() for other in other_names)))
        if self.problems:
            return None
        return CtgovStudy(
            source=source,
            nct_id=nct_id,
            title=title.strip(),
            status=status,
            phase=PHASE_FROM_CTGOV[phases],
            start_year=int(CTGOV_DATE.match(start)["year"]) if start else None,
            enrollment=enrollment,
            conditions=tuple(conditions),
            interventions=tuple(interventions),
        )


_KIND_NAMES = {str: "a text", int: "a whole number", list: "a list", dict: "an object"}


def ctgov_import_user():
    """The account the import's history records name, so that its edits are told apart."""
    user, created = get_user_model().objects.get_or_create(
        username=CTGOV_IMPORT_USERNAME, defaults={"is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


class _CtgovImporter:
    def __init__(self, report: CtgovImportReport, *, apply: bool):
        self.report = report
        self.apply = apply
        self.problems: list[str] = []
        self.user = ctgov_import_user()
        self.agents = _names_index(Agent.objects.all())
        self.products = _names_index(NKCellProduct.objects.all())

    def import_study(self, study: CtgovStudy):
        trial = Trial.objects.filter(nct_id=study.nct_id).first()
        if trial is None:
            self._create(study)
            return
        changes = [
            FieldChange(name, getattr(trial, name), getattr(study, name))
            for name in REGISTRY_FIELDS
            if _differs(name, getattr(trial, name), getattr(study, name))
        ]
        if not changes:
            self.report.unchanged.append(study.nct_id)
            return
        self.report.changed[study.nct_id] = changes
        if self.apply:
            for change in changes:
                setattr(trial, change.field, change.registry)
            self._save(trial, study, checked=[change.field for change in changes])

    def _create(self, study: CtgovStudy):
        agents, products, unlinked = [], [], []
        for names in study.interventions:
            keys = [name.casefold() for name in names]
            agent = next((self.agents[key] for key in keys if key in self.agents), None)
            product = next((self.products[key] for key in keys if key in self.products), None)
            if agent is None and product is None:
                unlinked.append(names[0])
            elif agent is not None and agent not in agents:
                agents.append(agent)
            elif product is not None and product not in products:
                products.append(product)
        if not agents and not products:
            self.problems.append(
                f"{study.source}: protocolSection.armsInterventionsModule.interventions: "
                "names no agent or NK cell product of the knowledge base "
                f"({', '.join(unlinked) or 'none given'}); add the agent first."
            )
            return
        trial = Trial(
            nct_id=study.nct_id,
            title=study.title,
            phase=study.phase,
            status=study.status,
            start_year=study.start_year,
            enrollment=study.enrollment,
            source_references=[],
            source_section="",
            source_quote="",
            source_summary=(
                f"Imported from ClinicalTrials.gov ({study.nct_id}, API v2 record) on "
                f"{timezone.now():%Y-%m-%d}. The review does not discuss this trial; its "
                "facts come from the registry."
            ),
        )
        checked = [
            f.name for f in Trial._meta.concrete_fields if f.name not in REVIEW_PROVENANCE_FIELDS
        ]
        if not self._save(trial, study, checked=checked):
            return
        conditions = [self._condition(name, study) for name in study.conditions]
        trial.conditions.set([c for c in conditions if c is not None])
        trial.nk_products.set(products)
        for agent in agents:
            link = TrialAgent(trial=trial, agent=agent)
            self._attribute(link)
            link.save()
        self.report.created[study.nct_id] = study
        if unlinked:
            self.report.unlinked[study.nct_id] = unlinked

    def _condition(self, name: str, study: CtgovStudy) -> Condition | None:
        condition = Condition.objects.filter(slug=slugify(name)).first()
        if condition is None:
            condition = Condition(name=name, slug=slugify(name))
            if not self._save(condition, study, checked=["name", "slug"]):
                return None
        return condition

    def _attribute(self, record):
        record._history_user = self.user
        record._change_reason = CTGOV_CHANGE_REASON

    def _save(self, record, study: CtgovStudy, *, checked: list[str]) -> bool:
        """Validate the `checked` fields as admin would, then save as the import user."""
        unchecked = [f.name for f in record._meta.concrete_fields if f.name not in checked]
        try:
            record.full_clean(exclude=unchecked)
        except ValidationError as error:
            self.problems.extend(
                f"{study.source}: {study.nct_id} {field}: {message}"
                for field, messages in error.message_dict.items()
                for message in messages
            )
            return False
        self._attribute(record)
        record.save()
        return True


def _names_index(queryset) -> dict:
    """Each record under its name, slug and aliases, case-folded, for matching interventions."""
    index = {}
    for record in queryset:
        for name in (record.name, record.slug, *record.aliases):
            index.setdefault(name.casefold(), record)
    return index


def _differs(field: str, curated, registry) -> bool:
    # The registry's silence never erases a curated value.
    if registry is None or curated == registry:
        return False
    return not (field == "phase" and curated in PHASE_REFINEMENTS.get(registry, set()))


# Data releases

# File stem of each model in a release, in the order loaddata would meet them.
RELEASE_FILES = {
    Target: "targets",
    Agent: "agents",
    NKCellProduct: "nk_products",
    Condition: "conditions",
    Trial: "trials",
    TrialAgent: "trial_agents",
    Result: "results",
}
RELEASE_TAG = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*$")


def write_records_csv(queryset: models.QuerySet, stream) -> int:
    """Write `queryset` as CSV: a column per field, related records by name, lists as JSON.

    Shared by admin's CSV export and the data release. Runs a fixed number of queries.
    """
    meta = queryset.model._meta
    fields = [*meta.concrete_fields, *meta.many_to_many]
    writer = csv.writer(stream)
    writer.writerow([field.name for field in fields])
    count = 0
    for record in _with_relations(queryset.order_by("pk")):
        writer.writerow([_csv_cell(record, field) for field in fields])
        count += 1
    return count


def _csv_cell(record, field) -> str:
    if field.many_to_many:
        return json.dumps([str(related) for related in getattr(record, field.name).all()])
    value = getattr(record, field.name)
    if value is None:
        return ""
    if field.is_relation:
        return str(value)
    if isinstance(field, models.JSONField):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return ReleaseJSONEncoder().default(value)
    return str(value)


class ReleaseJSONEncoder(DjangoJSONEncoder):
    """Timestamps always to the millisecond, "...:27.000Z" included.

    JSON keeps milliseconds only, so a reloaded release holds whole milliseconds; Django's encoder
    drops a fraction that is zero, which would make such a timestamp export differently.
    """

    def default(self, o):
        if isinstance(o, datetime):
            return o.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return super().default(o)


def release_export(*, directory: Path, tag: str | None = None) -> Path:
    """Write a data release into `directory`/nkkb-release-<tag>/ and return its path.

    Per model a JSON file in dumpdata format (json/, which `manage.py loaddata` restores) and a
    CSV file (csv/); manifest.json lists every file with its model, record count and SHA-256.
    The tag defaults to today's date; an existing release is never overwritten.
    """
    tag = tag or timezone.now().date().isoformat()
    if not RELEASE_TAG.match(tag):
        raise ProblemsError([f"Release tag {tag!r} may hold only letters, digits, '.', '_', '-'."])
    release = directory / f"nkkb-release-{tag}"
    if release.exists():
        raise ProblemsError([f"{release} already exists; a release is never overwritten."])
    directory.mkdir(parents=True, exist_ok=True)
    # Written aside, then renamed: a failed export leaves no half release behind.
    staging = Path(tempfile.mkdtemp(prefix=".nkkb-release-", dir=directory))
    staging.chmod(0o755)  # mkdtemp's folder is private; a release is for publishing
    try:
        (staging / "json").mkdir()
        (staging / "csv").mkdir()
        files = []
        for model, stem in RELEASE_FILES.items():
            json_path = staging / "json" / f"{stem}.json"
            with json_path.open("w", encoding="utf-8") as stream:
                serializers.serialize(
                    "json",
                    _with_relations(model.objects.order_by("pk")),
                    indent=2,
                    stream=stream,
                    cls=ReleaseJSONEncoder,
                )
            csv_path = staging / "csv" / f"{stem}.csv"
            with csv_path.open("w", encoding="utf-8", newline="") as stream:
                count = write_records_csv(model.objects.all(), stream)
            for path in (json_path, csv_path):
                files.append(
                    {
                        "path": path.relative_to(staging).as_posix(),
                        "model": model._meta.label_lower,
                        "records": count,
                        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                    }
                )
        manifest = {
            "release": release.name,
            "created": timezone.now().isoformat(),
            "load": f"python manage.py loaddata {release.name}/json/*.json",
            "files": files,
        }
        (staging / "manifest.json").write_text(
            json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
        )
        staging.rename(release)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return release


# Curator accounts


def curator_create(*, username: str, password: str, email: str = ""):
    """A staff account in the curators group: it may edit the knowledge base, nothing else."""
    group = Group.objects.filter(name=CURATORS_GROUP).first()
    if group is None:
        raise ValidationError(f"The {CURATORS_GROUP!r} group is missing; run manage.py migrate.")
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise ValidationError(f"A user named {username!r} already exists.")
    user = user_model(username=username, email=email, is_staff=True)
    validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    user.save()
    user.groups.add(group)
    return user
