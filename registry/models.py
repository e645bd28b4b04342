"""What ClinicalTrials.gov says about a study, kept apart from the curated trial."""

import json
import re
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from nkkb.core.limits import MAX_JSON_DEPTH, NUL_MESSAGE, contains_nul, json_depth
from nkkb.core.models import choices_constraint

from .choices import (
    PHASE_COMBINATIONS,
    Actuality,
    Allocation,
    ArmGroupType,
    InterventionType,
    OverallStatus,
    SourceKind,
    SponsorClass,
    StudyType,
)

NCT_ID_PATTERN = r"^NCT[0-9]{8}$"
NCT_ID_MESSAGE = "NCT number must be 'NCT' followed by exactly 8 digits, e.g. NCT02138734."


def parse_nct_id(text: str) -> str:
    """The NCT number `text` names, in its canonical form (upper case, no surrounding space):
    the one check every entry point applies (pages, API, admin, imports, the registry)."""
    nct_id = text.strip().upper() if isinstance(text, str) else ""
    if not re.fullmatch(NCT_ID_PATTERN, nct_id):
        raise ValidationError(f"{text!r} is not an NCT number. {NCT_ID_MESSAGE}", "invalid_nct_id")
    return nct_id


# The registry's own precision: a year, a month or a day.
PARTIAL_DATE_PATTERN = r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"
PARTIAL_DATE_MESSAGE = "A date must be written YYYY, YYYY-MM or YYYY-MM-DD."
# Limits on what a record holds, generous for real studies (a registry record lists tens of
# conditions or countries) but bounded, so that a hostile payload is refused, not stored.
MAX_LIST_ITEMS = 500
MAX_ITEM_LENGTH = 1000
MAX_JSON_CHARACTERS = 1_000_000

no_nul = ProhibitNullCharactersValidator()


def first_day(partial_date: str) -> date:
    """The first day of a date as precise as the registry gives it ("2021-12" -> 2021-12-01).

    Raises ValueError for a date that is not in the calendar."""
    parts = [int(part) for part in partial_date.split("-")]
    return date(*parts, *[1] * (3 - len(parts)))


def validate_partial_date(value: str):
    if not re.fullmatch(PARTIAL_DATE_PATTERN, value):
        raise ValidationError(PARTIAL_DATE_MESSAGE, code="invalid_partial_date")
    try:
        first_day(value)
    except ValueError as error:
        raise ValidationError(f"{value} is not a calendar date.", code="invalid_date") from error


def _is_text(value) -> bool:
    return (
        isinstance(value, str)
        and bool(value.strip())
        and len(value) <= MAX_ITEM_LENGTH
        and "\x00" not in value
    )


def _is_text_list(value) -> bool:
    return isinstance(value, list) and len(value) <= MAX_LIST_ITEMS and all(map(_is_text, value))


def validate_text_list(value):
    if not _is_text_list(value):
        raise ValidationError(
            f"Must be a list of at most {MAX_LIST_ITEMS} non-empty texts of at most "
            f"{MAX_ITEM_LENGTH} characters.",
            code="invalid_list",
        )


def validate_phases(value):
    if not isinstance(value, list) or tuple(value) not in PHASE_COMBINATIONS:
        combinations = ", ".join("+".join(phases) for phases in PHASE_COMBINATIONS if phases)
        raise ValidationError(
            f"Phases must be a list the registry uses: [] or one of {combinations}.",
            code="invalid_phases",
        )


def validate_interventions(value):
    if not (
        isinstance(value, list)
        and len(value) <= MAX_LIST_ITEMS
        and all(
            isinstance(item, dict)
            and set(item) == {"type", "name", "other_names"}
            and (item["type"] is None or item["type"] in InterventionType.values)
            and _is_text(item["name"])
            and _is_text_list(item["other_names"])
            for item in value
        )
    ):
        raise ValidationError(
            "Interventions must be a list of {type, name, other_names}: type an API v2 "
            "intervention type or null, name a text, other_names a list of texts.",
            code="invalid_interventions",
        )


def validate_arm_groups(value):
    if not (
        isinstance(value, list)
        and len(value) <= MAX_LIST_ITEMS
        and all(
            isinstance(item, dict)
            and set(item) == {"label", "type", "interventions"}
            and _is_text(item["label"])
            and (item["type"] is None or item["type"] in ArmGroupType.values)
            and (item["interventions"] is None or _is_text_list(item["interventions"]))
            for item in value
        )
    ):
        raise ValidationError(
            "Arm groups must be a list of {label, type, interventions}: label a text, type an "
            "API v2 arm group type or null, interventions a list of texts or null.",
            code="invalid_arm_groups",
        )


def validate_field_texts(value):
    """A mapping of record field names to texts (field sources, field notes)."""
    data_fields = {field.name for field in RegistryRecord._meta.concrete_fields}
    if not (
        isinstance(value, dict)
        and len(value) <= len(data_fields)
        and all(key in data_fields and _is_text(text) for key, text in value.items())
    ):
        raise ValidationError(
            "Must map field names of a registry record to non-empty texts.",
            code="invalid_field_map",
        )


def validate_json_document(value):
    """Any JSON a source sent, kept for audit: bounded in size and depth, no NUL character."""
    text = json.dumps(value)
    if contains_nul(value):
        raise ValidationError(NUL_MESSAGE, code="invalid_json_document")
    if json_depth(text) > MAX_JSON_DEPTH:
        raise ValidationError(
            f"Nested deeper than {MAX_JSON_DEPTH} levels.", code="invalid_json_document"
        )
    if len(text) > MAX_JSON_CHARACTERS:
        raise ValidationError(
            f"Longer than {MAX_JSON_CHARACTERS} characters.", code="invalid_json_document"
        )


def _text(verbose_name: str, max_length: int, **kwargs) -> models.CharField:
    return models.CharField(
        verbose_name, max_length=max_length, blank=True, null=True, validators=[no_nul], **kwargs
    )


def _partial_date(verbose_name: str) -> models.CharField:
    return models.CharField(
        verbose_name,
        max_length=10,
        blank=True,
        null=True,
        validators=[validate_partial_date],
        help_text="YYYY, YYYY-MM or YYYY-MM-DD: as precise as the registry is.",
    )


def _choice(verbose_name: str, choices: type[models.TextChoices]) -> models.CharField:
    return models.CharField(
        verbose_name, max_length=32, choices=choices.choices, blank=True, null=True
    )


def _list(verbose_name: str, validator=validate_text_list, **kwargs) -> models.JSONField:
    return models.JSONField(verbose_name, blank=True, null=True, validators=[validator], **kwargs)


def _date_format(field: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=models.Q(**{f"{field}__regex": PARTIAL_DATE_PATTERN})
        | models.Q(**{f"{field}__isnull": True}),
        name=f"registryrecord_{field}_format",
        violation_error_message=f"{field}: {PARTIAL_DATE_MESSAGE}",
    )


def _type_with_date(field: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=models.Q(**{f"{field}_type__isnull": True})
        | models.Q(**{f"{field}__isnull": False}),
        name=f"registryrecord_{field}_type_with_date",
        violation_error_message=f"{field}_type needs a {field}.",
    )


DATED_FIELDS = ("start_date", "primary_completion_date", "completion_date")
POSTED_FIELDS = ("first_posted", "last_update_posted")


class RegistryRecord(models.Model):
    """What ClinicalTrials.gov says about one study (NCT number), kept apart from what curators
    state on its trial (the trials app reads it; this app knows nothing of curation).

    Each field is the registry's value as its source gave it, NULL where the source is silent;
    `source_kind`, `source_url` and `as_of` say where and as of when. A record without a trial is
    a study the knowledge base does not (yet) hold.
    """

    nct_id = models.CharField(
        "NCT number",
        max_length=11,
        unique=True,
        validators=[RegexValidator(NCT_ID_PATTERN, NCT_ID_MESSAGE, code="invalid_nct_id")],
        error_messages={"unique": "A registry record with this NCT number already exists."},
    )
    # identificationModule
    brief_title = _text("brief title", 500)
    official_title = _text("official title", 1000)
    acronym = _text("acronym", 100)
    # statusModule
    overall_status = _choice("overall status", OverallStatus)
    last_known_status = _choice("last known status", OverallStatus)
    why_stopped = _text("why stopped", 1000)
    start_date = _partial_date("start date")
    start_date_type = _choice("start date type", Actuality)
    primary_completion_date = _partial_date("primary completion date")
    primary_completion_date_type = _choice("primary completion date type", Actuality)
    completion_date = _partial_date("completion date")
    completion_date_type = _choice("completion date type", Actuality)
    first_posted = _partial_date("first posted")
    last_update_posted = _partial_date("last update posted")
    # designModule
    phases = _list(
        "phases",
        validate_phases,
        help_text='API v2 phase codes, e.g. ["PHASE1", "PHASE2"].',
    )
    study_type = _choice("study type", StudyType)
    allocation = _choice("allocation", Allocation)
    enrollment = models.PositiveIntegerField(blank=True, null=True)
    enrollment_type = _choice("enrollment type", Actuality)
    # sponsorCollaboratorsModule
    lead_sponsor = _text("lead sponsor", 300)
    lead_sponsor_class = _choice("lead sponsor class", SponsorClass)
    collaborators = _list("collaborators")
    # conditionsModule
    conditions = _list("conditions")
    keywords = _list("keywords")
    # armsInterventionsModule
    interventions = _list(
        "interventions",
        validate_interventions,
        help_text='Each {"type", "name", "other_names"}.',
    )
    arm_groups = _list(
        "arm groups",
        validate_arm_groups,
        help_text='Each {"label", "type", "interventions"}.',
    )
    # contactsLocationsModule, referencesModule, identificationModule.secondaryIdInfos
    countries = _list("countries")
    pmids = _list("PMIDs")
    secondary_ids = _list("secondary IDs")
    has_results = models.BooleanField("has results", null=True, blank=True)

    # Provenance
    source_kind = models.CharField(max_length=16, choices=SourceKind.choices)
    source_url = models.URLField(
        "source URL", max_length=2000, blank=True, null=True, validators=[no_nul]
    )
    source_name = _text("source name", 200, help_text="e.g. ClinicalTrials.gov, meddatax.com.")
    as_of = models.DateField(
        "as of", blank=True, null=True, help_text="The date the source's data is as of."
    )
    fetched = models.DateTimeField(default=timezone.now, help_text="When NKKB read it.")
    field_sources = models.JSONField(
        "field sources",
        default=dict,
        blank=True,
        validators=[validate_field_texts],
        help_text="The page each field was read from, where it differs per field.",
    )
    field_notes = models.JSONField(
        "field notes",
        default=dict,
        blank=True,
        validators=[validate_field_texts],
        help_text="How a source worded a value where that differs from the value kept.",
    )
    source_conflicts = models.JSONField(
        "conflicts between sources",
        default=list,
        blank=True,
        validators=[validate_json_document],
    )
    raw = models.JSONField(
        "payload as received", default=dict, blank=True, validators=[validate_json_document]
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["nct_id"]
        verbose_name = "registry record"
        # The trial list's sponsor options are the records' distinct sponsors: read from this
        # index, not from every record (a full read of the widest table at registry scale).
        indexes = [models.Index(fields=["lead_sponsor"], name="registry_lead_sponsor_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(nct_id__regex=NCT_ID_PATTERN),
                name="registryrecord_nct_id_format",
                violation_error_message=NCT_ID_MESSAGE,
            ),
            choices_constraint(
                "overall_status", OverallStatus, model="registryrecord", nullable=True
            ),
            choices_constraint(
                "last_known_status", OverallStatus, model="registryrecord", nullable=True
            ),
            choices_constraint("study_type", StudyType, model="registryrecord", nullable=True),
            choices_constraint("allocation", Allocation, model="registryrecord", nullable=True),
            choices_constraint("enrollment_type", Actuality, model="registryrecord", nullable=True),
            choices_constraint(
                "lead_sponsor_class", SponsorClass, model="registryrecord", nullable=True
            ),
            *(
                choices_constraint(
                    f"{field}_type", Actuality, model="registryrecord", nullable=True
                )
                for field in DATED_FIELDS
            ),
            *(_date_format(field) for field in (*DATED_FIELDS, *POSTED_FIELDS)),
            *(_type_with_date(field) for field in DATED_FIELDS),
            choices_constraint("source_kind", SourceKind, model="registryrecord"),
            models.CheckConstraint(
                condition=models.Q(enrollment__gte=0) | models.Q(enrollment__isnull=True),
                name="registryrecord_enrollment_not_negative",
                violation_error_message="Enrollment cannot be negative.",
            ),
        ]

    def __str__(self):
        return f"{self.nct_id} ({self.get_source_kind_display()}, as of {self.as_of or 'unknown'})"

    @property
    def ctgov_url(self) -> str:
        return f"https://clinicaltrials.gov/study/{self.nct_id}"

    @property
    def start_year(self) -> int | None:
        return int(self.start_date[:4]) if self.start_date else None


class CandidateStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class StudyCandidate(models.Model):
    """A study that discovery found may belong in the knowledge base: its registry record, what
    of the knowledge base its interventions matched and how, waiting for a curator to accept it
    (the trials app then creates a curated trial) or reject it with a reason. Never public.

    `matches` lists, for each registry name that matched, what it matched and how:
    {"name": "IL-15 superagonist", "matched": "agent:il-15", "how": "normalised"}.
    """

    record = models.OneToOneField(
        RegistryRecord, on_delete=models.CASCADE, related_name="candidate"
    )
    matched_agents = models.ManyToManyField(
        "agents.Agent", related_name="study_candidates", blank=True
    )
    matched_products = models.ManyToManyField(
        "agents.NKCellProduct",
        related_name="study_candidates",
        blank=True,
        verbose_name="matched NK cell products",
    )
    matches = models.JSONField(default=list, blank=True, validators=[validate_json_document])
    first_seen = models.DateTimeField("first seen", default=timezone.now)
    status = models.CharField(
        max_length=16, choices=CandidateStatus.choices, default=CandidateStatus.OPEN
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="decided by",
    )
    decided_at = models.DateTimeField("decided at", null=True, blank=True)
    decision_reason = models.TextField(
        "reason for the decision", blank=True, default="", validators=[no_nul]
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-first_seen", "id"]
        verbose_name = "study candidate"
        constraints = [
            choices_constraint("status", CandidateStatus, model="studycandidate"),
            models.CheckConstraint(
                condition=models.Q(status=CandidateStatus.OPEN, decided_at__isnull=True)
                | (~models.Q(status=CandidateStatus.OPEN) & models.Q(decided_at__isnull=False)),
                name="studycandidate_decided_when_closed",
                violation_error_message="A decided candidate has a decision date; an open one "
                "has none.",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=CandidateStatus.REJECTED, decision_reason=""),
                name="studycandidate_rejection_has_reason",
                violation_error_message="A rejection needs a reason.",
            ),
        ]

    def __str__(self):
        return f"{self.record.nct_id} ({self.get_status_display()})"

    def get_absolute_url(self):
        return reverse("admin:registry_studycandidate_change", args=[self.pk])
