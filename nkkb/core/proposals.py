"""Proposals: a change to one knowledge-base record that a second curator accepts or rejects.

A proposal stores the proposed values of the fields it changes (as JSON: a foreign key as the
related record's id, a many-to-many field as a sorted list of ids) and the record's `version` it
was based on. Nobody reviews their own; a proposal whose record changed meanwhile is stale and is
applied only after `proposal_rebase`.
"""

import json
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from .changes import lock_writes
from .history import CHANGE_REASON_LENGTH, INTERNAL_FIELDS, display_value
from .models import Proposal, ProposalStatus

SELF_REVIEW_MESSAGE = "Nobody reviews their own proposal: another curator must."
STALE_MESSAGE = (
    "The record changed after this proposal was made: rebase it on the current version, check "
    "the new diff, then accept it."
)
NOT_OPEN_MESSAGE = "This proposal was already {status}."
NOTHING_CHANGED_MESSAGE = "Nothing to propose: the values are those of the current record."


def review_required() -> bool:
    """Whether curators' own admin edits of existing records go through review too."""
    return getattr(settings, "NKKB_REVIEW_REQUIRED", True)


def proposable_fields(model) -> list[models.Field]:
    """The fields a proposal may change: what a curator edits, not bookkeeping."""
    meta = model._meta
    fields = [
        field
        for field in meta.concrete_fields
        if field.editable and not field.primary_key and field.name not in INTERNAL_FIELDS
    ]
    fields += [
        field
        for field in meta.many_to_many
        if field.editable and field.remote_field.through._meta.auto_created
    ]
    return fields


def _as_json(field: models.Field, value) -> Any:
    """A field's value as a proposal stores it."""
    if field.many_to_many:
        return sorted(item.pk if isinstance(item, models.Model) else item for item in value or ())
    if field.is_relation and isinstance(value, models.Model):
        value = value.pk
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _current_json(field: models.Field, record) -> Any:
    if field.many_to_many:
        return _as_json(field, getattr(record, field.name).values_list("pk", flat=True))
    return _as_json(field, getattr(record, field.attname))


def _version(record) -> int | None:
    return getattr(record, "version", None)


def proposal_record(proposal: Proposal):
    """The record a proposal changes as it is now; None for a new record (or a deleted one)."""
    if proposal.object_id is None:
        return None
    model = proposal.content_type.model_class()
    return model._default_manager.filter(pk=proposal.object_id).first()


def proposal_is_stale(proposal: Proposal, record=None) -> bool:
    """Whether the record changed (or went) since the version the proposal is based on."""
    if proposal.object_id is None or proposal.status != ProposalStatus.OPEN:
        return False
    record = record if record is not None else proposal_record(proposal)
    return record is None or _version(record) != proposal.base_version


def _changed(model, record, values: dict[str, Any]) -> dict[str, Any]:
    fields = {field.name: field for field in proposable_fields(model)}
    changes = {}
    for name, value in values.items():
        if name not in fields:
            continue
        proposed = _as_json(fields[name], value)
        if record is None or _current_json(fields[name], record) != proposed:
            changes[name] = proposed
    return changes


def proposal_create(
    *,
    proposer,
    model: type[models.Model],
    object_id=None,
    values: dict[str, Any],
    source: str,
    reason: str,
    base_version: int | None = None,
) -> Proposal:
    """Propose `values` ({field name: value}) for the record `object_id` of `model` (None: a
    new record), based on its version `base_version` (the current one if not given). Only the
    fields whose values differ from the record's are kept."""
    if not proposer.has_perm("core.add_proposal"):
        raise PermissionDenied("Only contributors and curators propose changes.")
    record = None
    if object_id is not None:
        record = model._default_manager.get(pk=object_id)
        if base_version is None:
            base_version = _version(record)
    changes = _changed(model, record, values)
    if not changes:
        raise ValidationError(NOTHING_CHANGED_MESSAGE, code="unchanged")
    proposal = Proposal(
        content_type=ContentType.objects.get_for_model(model),
        object_id=None if object_id is None else str(object_id),
        changes=changes,
        base_version=base_version if record is not None else None,
        source=source,
        reason=reason,
        proposed_by=proposer,
    )
    proposal.full_clean()
    proposal.save()
    return proposal


def _label(field: models.Field) -> str:
    return str(field.verbose_name).capitalize()


def _display(field: models.Field, value) -> str:
    """A stored value as a curator reads it: labels of vocabularies, names of related records."""
    if field.is_relation and value not in (None, []):
        ids = value if field.many_to_many else [value]
        related = field.related_model._default_manager.in_bulk(ids)
        names = [str(related[pk]) if pk in related else f"#{pk} (deleted)" for pk in ids]
        return ", ".join(names)
    return str(display_value(field, value))


def proposal_diff(proposal: Proposal, record=None) -> list[dict[str, str]]:
    """Each field the proposal changes: its label, its current value and the proposed one."""
    model = proposal.content_type.model_class()
    if record is None:
        record = proposal_record(proposal)
    fields = {field.name: field for field in proposable_fields(model)}
    rows = []
    for name, proposed in proposal.changes.items():
        field = fields.get(name)
        if field is None:
            continue
        current = _current_json(field, record) if record is not None else None
        rows.append(
            {
                "field": name,
                "label": _label(field),
                "current": _display(field, current),
                "proposed": _display(field, proposed),
            }
        )
    return rows


def _reviewable(proposal: Proposal, reviewer) -> None:
    if proposal.status != ProposalStatus.OPEN:
        raise ValidationError(
            NOT_OPEN_MESSAGE.format(status=proposal.get_status_display().lower()), code="closed"
        )
    if not reviewer.has_perm("core.change_proposal"):
        raise PermissionDenied("Only curators review proposals.")
    if reviewer.pk == proposal.proposed_by_id:
        raise PermissionDenied(SELF_REVIEW_MESSAGE)


def accepted_reason(proposal: Proposal, reviewer) -> str:
    """ "Proposed by dana: <reason>; accepted by carol", the reason shortened to fit history."""
    head = f"Proposed by {proposal.proposed_by.get_username()}: "
    tail = f"; accepted by {reviewer.get_username()}"
    room = CHANGE_REASON_LENGTH - len(head) - len(tail)
    reason = proposal.reason if len(proposal.reason) <= room else proposal.reason[: room - 1] + "…"
    return f"{head}{reason}{tail}"[:CHANGE_REASON_LENGTH]


def proposal_accept(*, proposal: Proposal, reviewer, comment: str = "") -> models.Model:
    """Apply the proposal (model validation, then save) in the reviewer's name, with the
    proposer's name and reason in the history; returns the record."""
    with transaction.atomic():
        lock_writes()
        proposal = Proposal.objects.select_for_update().get(pk=proposal.pk)
        _reviewable(proposal, reviewer)
        model = proposal.content_type.model_class()
        meta = model._meta
        action = "add" if proposal.object_id is None else "change"
        if not reviewer.has_perm(f"{meta.app_label}.{action}_{meta.model_name}"):
            raise PermissionDenied(f"You may not {action} {meta.verbose_name_plural}.")
        if proposal.object_id is None:
            record = model()
        else:
            record = model._default_manager.select_for_update().filter(pk=proposal.object_id)
            record = record.first()
            if proposal_is_stale(proposal, record) or record is None:
                raise ValidationError(STALE_MESSAGE, code="stale")
        fields = {field.name: field for field in proposable_fields(model)}
        many_to_many = {}
        for name, value in proposal.changes.items():
            field = fields[name]
            if field.many_to_many:
                many_to_many[field] = value
            else:
                setattr(record, field.attname, None if value is None else field.to_python(value))
        record._history_user = reviewer
        record._change_reason = accepted_reason(proposal, reviewer)
        record.full_clean()
        record.save()
        for field, ids in many_to_many.items():
            getattr(record, field.name).set(ids)
        proposal.object_id = str(record.pk)
        _close(proposal, reviewer, ProposalStatus.ACCEPTED, comment)
    return record


def proposal_reject(*, proposal: Proposal, reviewer, comment: str) -> Proposal:
    """Close the proposal unapplied; the comment tells its author why."""
    if not comment.strip():
        raise ValidationError("Say why the proposal is rejected.", code="comment_required")
    with transaction.atomic():
        proposal = Proposal.objects.select_for_update().get(pk=proposal.pk)
        _reviewable(proposal, reviewer)
        _close(proposal, reviewer, ProposalStatus.REJECTED, comment)
    return proposal


def _close(proposal: Proposal, reviewer, status: str, comment: str) -> None:
    proposal.status = status
    proposal.reviewed_by = reviewer
    proposal.reviewed_at = timezone.now()
    proposal.review_comment = comment
    proposal.full_clean()
    proposal.save()


def proposal_rebase(*, proposal: Proposal, user) -> Proposal:
    """Base a stale proposal on the record's current version: the fields the record now already
    has drop out of it, the others remain proposed (its author or a curator may)."""
    if user.pk != proposal.proposed_by_id and not user.has_perm("core.change_proposal"):
        raise PermissionDenied("Only its author or a curator rebases a proposal.")
    with transaction.atomic():
        proposal = Proposal.objects.select_for_update().get(pk=proposal.pk)
        if proposal.status != ProposalStatus.OPEN:
            raise ValidationError(
                NOT_OPEN_MESSAGE.format(status=proposal.get_status_display().lower()),
                code="closed",
            )
        record = proposal_record(proposal)
        if proposal.object_id is not None and record is None:
            raise ValidationError("The record was deleted: nothing to rebase on.", code="gone")
        model = proposal.content_type.model_class()
        fields = {field.name: field for field in proposable_fields(model)}
        changes = {
            name: value
            for name, value in proposal.changes.items()
            if name in fields and (record is None or _current_json(fields[name], record) != value)
        }
        if not changes:
            raise ValidationError(
                "The record already has every proposed value: reject or leave it.",
                code="unchanged",
            )
        proposal.changes = changes
        proposal.base_version = _version(record) if record is not None else None
        proposal.full_clean()
        proposal.save()
    return proposal
