"""Accepting a study candidate (found by discovery in the registry) as a curated trial, and the
one rule that tells trials whose provenance is a registry record from those of the review."""

from django.db import models, transaction
from django.utils import timezone

from nkkb.core.changes import lock_writes
from nkkb.core.history import CHANGE_REASON_LENGTH
from nkkb.core.problems import ProblemsError
from registry.models import CandidateStatus, StudyCandidate
from registry.services import candidate_decided_problem
from registry.sync import agent_role

from ..choices import AgentRole
from ..models import Trial, TrialAgent

# Provenance that points into the review; a trial accepted from the registry has none.
REVIEW_PROVENANCE_FIELDS = ("source_section", "source_quote")
ACCEPT_CHANGE_REASON = "Accepted from ClinicalTrials.gov discovery"
# The account of the retired import_ctgov: trials it created have registry provenance too.
LEGACY_IMPORT_USERNAME = "ctgov-import"


def registry_trial_ids() -> models.QuerySet:
    """Ids of trials whose provenance is a registry record, not the review: those accepted from
    a study candidate, and those the retired import_ctgov created."""
    accepted = StudyCandidate.objects.filter(status=CandidateStatus.ACCEPTED).values(
        "record__nct_id"
    )
    imported = Trial.history.filter(
        history_type="+", history_user__username=LEGACY_IMPORT_USERNAME
    ).values("id")
    return Trial.objects.filter(
        models.Q(nct_id__in=accepted) | models.Q(id__in=imported)
    ).values_list("id", flat=True)


def candidate_accept(*, candidate: StudyCandidate, user, reason: str) -> Trial:
    """Make an open candidate a curated trial, all in one transaction: its NCT number, the
    registry's brief title, phase and status left unset (the review states neither), linked
    to the matched NK cell products and agents (NK-directed ones investigational, combination
    partners as such); its provenance the registry record, not the review. History records
    `user` and `reason` on the trial, its agent links and the candidate.

    Raises ProblemsError when the reason is empty, the candidate was decided already, the
    knowledge base holds the NCT number, or the record has no title.
    """
    reason = (reason or "").strip()
    with transaction.atomic():
        lock_writes()
        candidate = (
            StudyCandidate.objects.select_for_update(of=("self",))
            .select_related("record", "decided_by")
            .get(pk=candidate.pk)
        )
        record = candidate.record
        problems = []
        if not reason:
            problems.append(f"{record.nct_id}: accepting needs a reason.")
        if candidate.status != CandidateStatus.OPEN:
            problems.append(candidate_decided_problem(candidate))
        elif Trial.objects.filter(nct_id=record.nct_id).exists():
            problems.append(f"{record.nct_id} is a trial of the knowledge base already.")
        title = record.brief_title or record.official_title
        if not title:
            problems.append(f"{record.nct_id}: the registry record gives no title.")
        if problems:
            raise ProblemsError(problems)

        now = timezone.now()
        as_of = f"as of {record.as_of:%Y-%m-%d}" if record.as_of else "undated"
        trial = Trial(
            nct_id=record.nct_id,
            title=title[: Trial._meta.get_field("title").max_length],
            phase=None,
            status=None,
            source_section="",
            source_quote="",
            source_references=[],
            source_summary=(
                f"Not from the review: added from the ClinicalTrials.gov registry record of "
                f"{record.nct_id} ({as_of}), accepted by {user} on {now:%Y-%m-%d}: {reason}"
            ),
        )
        trial.full_clean(exclude=REVIEW_PROVENANCE_FIELDS)
        _attribute(trial, user, reason)
        trial.save()
        trial.nk_products.set(candidate.matched_products.all())
        for agent in candidate.matched_agents.prefetch_related("targets"):
            role = (
                AgentRole.COMBINATION
                if agent_role(agent) == "partner"
                else AgentRole.INVESTIGATIONAL
            )
            link = TrialAgent(trial=trial, agent=agent, role=role)
            link.full_clean(validate_unique=False)
            _attribute(link, user, reason)
            link.save()

        candidate.status = CandidateStatus.ACCEPTED
        candidate.decided_by = user
        candidate.decided_at = now
        candidate.decision_reason = reason
        candidate.full_clean(validate_unique=False)
        _attribute(candidate, user, reason)
        candidate.save()
    return trial


def _attribute(record, user, reason: str):
    record._history_user = user
    record._change_reason = f"{ACCEPT_CHANGE_REASON}: {reason}"[:CHANGE_REASON_LENGTH]
