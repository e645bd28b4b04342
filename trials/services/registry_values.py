"""A curator takes the registry's value for a curated field: one action, recorded with who and
why in the trial's history. Nothing else ever writes a registry value into a curated field."""

from django.core.exceptions import ValidationError
from django.db import transaction

from nkkb.core.changes import lock_writes
from nkkb.core.history import CHANGE_REASON_LENGTH

from ..choices import PHASE_FROM_REGISTRY
from ..models import Trial

ACCEPT_REASON_PREFIX = "Registry value accepted"


# The curated fields the registry states too.
ACCEPTABLE_FIELDS = ("phase", "status", "enrollment", "start_year")


def _registry_value(trial: Trial, field: str):
    record = trial.registry_record
    if record is None:
        raise ValidationError(f"NKKB holds no registry record of {trial.nct_id}.")
    values = {
        "phase": PHASE_FROM_REGISTRY.get(tuple(record.phases or ())),
        "status": record.overall_status,
        "enrollment": record.enrollment,
        "start_year": record.start_year,
    }
    if field not in ACCEPTABLE_FIELDS:
        raise ValidationError(
            f"Only {', '.join(ACCEPTABLE_FIELDS)} can take the registry's value; {field!r} cannot."
        )
    if values[field] is None:
        raise ValidationError(f"The registry record of {trial.nct_id} gives no {field}.")
    return values[field]


def registry_value_accept(*, trial: Trial, field: str, user, reason: str) -> Trial:
    """Set the curated `field` of `trial` to what its registry record says, recording `user`
    and `reason` in its history; the value is validated as any curator's edit."""
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError("Say why the registry's value is right: a reason is required.")
    with transaction.atomic():
        lock_writes()
        trial = Trial.objects.select_for_update().get(pk=trial.pk)
        setattr(trial, field, _registry_value(trial, field))
        trial.full_clean()
        trial._history_user = user
        trial._change_reason = f"{ACCEPT_REASON_PREFIX} ({field}): {reason}"[:CHANGE_REASON_LENGTH]
        trial.save()
    return trial
