"""Registry workflows: loading what the registry says into registry records, never into trials,
and closing the candidates discovery found. The live sync, saved API files and discovery are in
`sync.py`; they store through `record_store` too."""

import json
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from nkkb.core.changes import lock_writes
from nkkb.core.problems import ProblemsError

from .choices import SourceKind
from .models import CandidateStatus, RegistryRecord, StudyCandidate
from .parsing import ParseErrors, parse_snapshot_entry

SNAPSHOT_CHANGE_REASON = "Registry snapshot"
# Records read from the registry itself: a snapshot of archived pages never replaces them.
LIVE_SOURCE_KINDS = (SourceKind.API, SourceKind.FILE)


@dataclass
class SnapshotReport:
    """NCT numbers by what loading the snapshot did with them."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # Kept because a live sync or a saved API file gave them: newer than any snapshot.
    kept_live: list[str] = field(default_factory=list)
    without_source: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {name: len(nct_ids) for name, nct_ids in vars(self).items()}


def registry_snapshot_load(*, path: Path) -> SnapshotReport:
    """Create or update a registry record for each study of the snapshot at `path` that has a
    source; all or nothing.

    A record whose values are those of the file is left alone, so that loading twice changes
    nothing. Raises ProblemsError naming file, NCT number, field and raw value of every value
    that cannot be read; nothing is written then.
    """
    entries, problems = _snapshot_entries(path)
    parsed: dict[str, dict] = {}
    report = SnapshotReport()
    for index, entry in enumerate(entries):
        try:
            values = parse_snapshot_entry(entry)
        except ParseErrors as errors:
            nct_id = errors.nct_id or f"trials[{index}]"
            problems += [
                f"{path}: {nct_id}: {error.field}: {error.raw!r} {error.message} "
                f"(at trials[{index}].{error.path})"
                for error in errors.errors
            ]
            continue
        nct_id = entry["nct_id"]
        if nct_id in parsed or nct_id in report.without_source:
            problems.append(f"{path}: {nct_id}: is in the snapshot twice.")
        elif values is None:
            report.without_source.append(nct_id)
        else:
            parsed[nct_id] = values
    if problems:
        raise ProblemsError(problems)

    with transaction.atomic():
        existing = RegistryRecord.objects.in_bulk(list(parsed), field_name="nct_id")
        for nct_id, values in parsed.items():
            record = existing.get(nct_id)
            if record is not None and record.source_kind in LIVE_SOURCE_KINDS:
                report.kept_live.append(nct_id)
                continue
            try:
                _, outcome, _ = record_store(record, values, reason=SNAPSHOT_CHANGE_REASON)
            except ValidationError as error:
                problems += validation_problems(nct_id, error)
                continue
            getattr(report, outcome).append(nct_id)
        if problems:
            transaction.set_rollback(True)
    if problems:
        raise ProblemsError([f"{path}: {problem}" for problem in problems])
    return report


def _snapshot_entries(path: Path) -> tuple[list, list[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        return [], [f"{path}: cannot be read ({error.strerror})."]
    except UnicodeDecodeError:
        return [], [f"{path}: is not UTF-8 text."]
    except json.JSONDecodeError as error:
        return [], [f"{path}: is not valid JSON (line {error.lineno}: {error.msg})."]
    if not isinstance(data, dict) or not isinstance(data.get("trials"), list):
        return [], [f"{path}: is not a registry snapshot (an object whose `trials` is a list)."]
    return data["trials"], []


def record_store(
    record: RegistryRecord | None, values: dict, *, reason: str, write: bool = True
) -> tuple[RegistryRecord, str, list[str]]:
    """Save `values` on `record` (a new one if None) where they differ, as `reason` in its
    history; with `write` false, only tell what saving would do. Returns the record, the
    outcome ("created", "updated" or "unchanged") and the names of the fields that change.

    Raises ValidationError for values the record does not accept; nothing is saved then.
    """
    if record is None:
        record, outcome, changed = RegistryRecord(**values), "created", list(values)
    else:
        changed = [name for name, value in values.items() if getattr(record, name) != value]
        if not changed:
            return record, "unchanged", []
        for name in changed:
            setattr(record, name, values[name])
        outcome = "updated"
    record.fetched = timezone.now()
    # Unique fields were looked up already, and each check constraint repeats a field's own
    # validator: checking them again would cost a query each.
    record.full_clean(validate_unique=False, validate_constraints=False)
    if write:
        record._change_reason = reason
        record.save()
    return record, outcome, changed


def validation_problems(where: str, error: ValidationError) -> list[str]:
    """Each message of `error`, as "where: field: message"."""
    return [
        f"{where}: {name}: {message}"
        for name, messages in error.message_dict.items()
        for message in messages
    ]


def candidate_reject(*, candidate: StudyCandidate, user, reason: str) -> StudyCandidate:
    """Close an open candidate as not belonging in the knowledge base, recording who and why.

    Raises ProblemsError when the reason is empty or the candidate was decided already."""
    reason = (reason or "").strip()
    if not reason:
        raise ProblemsError([f"{candidate}: a rejection needs a reason."])
    with transaction.atomic():
        lock_writes()
        candidate = (
            StudyCandidate.objects.select_for_update(of=("self",))
            .select_related("record", "decided_by")
            .get(pk=candidate.pk)
        )
        if candidate.status != CandidateStatus.OPEN:
            raise ProblemsError([candidate_decided_problem(candidate)])
        candidate.status = CandidateStatus.REJECTED
        candidate.decided_by = user
        candidate.decided_at = timezone.now()
        candidate.decision_reason = reason
        candidate.full_clean(validate_unique=False)
        candidate._history_user = user
        candidate._change_reason = f"Rejected: {reason}"
        candidate.save()
    return candidate


def candidate_decided_problem(candidate: StudyCandidate) -> str:
    who = candidate.decided_by or "someone"
    return (
        f"{candidate.record.nct_id} was {candidate.get_status_display().lower()} already "
        f"(by {who} on {candidate.decided_at:%Y-%m-%d}: {candidate.decision_reason})."
    )
