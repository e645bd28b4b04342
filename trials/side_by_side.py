"""What the review states and what the registry says about a trial, field by field, each with
its source: the trial page shows these rows; neither side is ever written into the other."""

from dataclasses import dataclass, field

from registry.choices import (
    Actuality,
    Allocation,
    OverallStatus,
    RegistryPhase,
    SponsorClass,
    StudyType,
)
from registry.models import RegistryRecord

from .discrepancies import Discrepancy, trial_discrepancies
from .models import Trial


@dataclass(frozen=True)
class FieldPair:
    """One field as each side gives it (None where that side says nothing)."""

    name: str
    label: str
    curated: str | None
    registry: str | None
    source_url: str | None
    discrepancies: list[Discrepancy] = field(default_factory=list)


def _label(choices, value) -> str | None:
    return None if value in (None, "") else choices(value).label


def _joined(values) -> str | None:
    return "; ".join(values) if values else None


def _dated(record: RegistryRecord, name: str) -> str | None:
    date, kind = getattr(record, name), getattr(record, f"{name}_type", None)
    if not date:
        return None
    return f"{date} ({Actuality(kind).label.lower()})" if kind else date


def _registry_values(record: RegistryRecord) -> dict[str, str | None]:
    enrollment = None
    if record.enrollment is not None:
        kind = record.enrollment_type and Actuality(record.enrollment_type).label.lower()
        enrollment = f"{record.enrollment}" + (f" ({kind})" if kind else "")
    sponsor = record.lead_sponsor
    if sponsor and record.lead_sponsor_class:
        sponsor += f" ({SponsorClass(record.lead_sponsor_class).label})"
    interventions = [item["name"] for item in record.interventions or ()]
    return {
        "title": record.brief_title,
        "official_title": record.official_title,
        "phase": _joined([RegistryPhase(code).label for code in record.phases or ()]),
        "status": _label(OverallStatus, record.overall_status),
        "why_stopped": record.why_stopped,
        "enrollment": enrollment,
        "start": _dated(record, "start_date"),
        "primary_completion": _dated(record, "primary_completion_date"),
        "completion": _dated(record, "completion_date"),
        "study_type": _label(StudyType, record.study_type),
        "allocation": _label(Allocation, record.allocation),
        "sponsor": sponsor,
        "collaborators": _joined(record.collaborators),
        "conditions": _joined(record.conditions),
        "interventions": _joined(interventions),
        "countries": _joined(record.countries),
        "first_posted": record.first_posted,
        "last_update_posted": record.last_update_posted,
        "pmids": _joined(record.pmids),
    }


def _curated_values(trial: Trial) -> dict[str, str | None]:
    status = trial.get_status_display() if trial.status else None
    if trial.status_note:
        status = f"{status or 'Not stated'} (review: “{trial.status_note}”)"
    linked = [link.agent.name for link in trial.trial_agents.all()]
    linked += [product.name for product in trial.nk_products.all()]
    return {
        "title": trial.title,
        "phase": trial.get_phase_display() if trial.phase else None,
        "status": status,
        "enrollment": None if trial.enrollment is None else str(trial.enrollment),
        "start": None if trial.start_year is None else str(trial.start_year),
        "conditions": _joined([condition.name for condition in trial.conditions.all()]),
        "interventions": _joined(linked),
    }


LABELS = {
    "title": "Title",
    "official_title": "Official title",
    "phase": "Phase",
    "status": "Status",
    "why_stopped": "Why stopped",
    "enrollment": "Enrollment",
    "start": "Start",
    "primary_completion": "Primary completion",
    "completion": "Completion",
    "study_type": "Study type",
    "allocation": "Allocation",
    "sponsor": "Lead sponsor",
    "collaborators": "Collaborators",
    "conditions": "Conditions",
    "interventions": "Agents and products / interventions",
    "countries": "Countries",
    "first_posted": "First posted",
    "last_update_posted": "Last update posted",
    "pmids": "PubMed IDs",
}
# The registry record's field behind each row, for the page each value was read from.
RECORD_FIELDS = {
    "title": "brief_title",
    "phase": "phases",
    "status": "overall_status",
    "start": "start_date",
    "primary_completion": "primary_completion_date",
    "completion": "completion_date",
    "sponsor": "lead_sponsor",
}
# The row each kind of discrepancy belongs to, where its field has another name.
DISCREPANCY_ROWS = {"last_updated": "last_update_posted"}


def side_by_side(trial: Trial) -> list[FieldPair]:
    """Each field the review or the registry states, both sides (reads the trial's prefetched
    relations and `registry_record`)."""
    record = trial.registry_record
    curated = _curated_values(trial)
    registry = _registry_values(record) if record else {}
    found = trial_discrepancies(trial, record)
    pairs = []
    for name, label in LABELS.items():
        if curated.get(name) is None and registry.get(name) is None:
            continue
        record_field = RECORD_FIELDS.get(name, name)
        source = record and (record.field_sources or {}).get(record_field, record.source_url)
        differences = [d for d in found if DISCREPANCY_ROWS.get(d.field, d.field) == name]
        pairs.append(
            FieldPair(name, label, curated.get(name), registry.get(name), source, differences)
        )
    return pairs
