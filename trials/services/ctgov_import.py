"""The ClinicalTrials.gov import: API v2 study records into trials, all or nothing."""

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.text import slugify

from agents.models import Agent, NKCellProduct
from nkkb.core.problems import ProblemsError

from ..choices import Phase, TrialStatus
from ..models import Condition, Trial, TrialAgent, parse_nct_id

CTGOV_IMPORT_USERNAME = "ctgov-import"
CTGOV_CHANGE_REASON = "ClinicalTrials.gov import"

# Provenance that points into the review; a trial imported from the registry has none.
REVIEW_PROVENANCE_FIELDS = ("source_section", "source_quote")


def registry_trial_ids() -> models.QuerySet:
    """Ids of trials the ClinicalTrials.gov import created: their provenance is the registry."""
    return Trial.history.filter(
        history_type="+", history_user__username=CTGOV_IMPORT_USERNAME
    ).values_list("id", flat=True)


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
        if nct_id is not None:
            try:
                nct_id = parse_nct_id(nct_id)
            except ValidationError as error:
                self.problem("protocolSection.identificationModule.nctId", error.messages[0])
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
