"""Edit history as a curator reads it: labels instead of codes, no internal fields, who and why,
and the site-wide list of recent changes."""

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import BooleanField, CharField, F, ManyToManyField, Value
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format
from simple_history.template_utils import HistoricalRecordContextHelper

from .knowledge_base import knowledge_base_models

# The change reason of every record the seed loader writes (trials.services.seed): history shows
# "seed" as their author, as they have no user.
SEED_CHANGE_REASON = "Loaded from the seed"
SEED_AUTHOR = "seed"
# Bookkeeping a curator never edits: the optimistic lock's version and the timestamps.
INTERNAL_FIELDS = ("version", "created", "last_updated")
# django-simple-history's column for the reason.
CHANGE_REASON_LENGTH = 100
HISTORY_TYPES = {"+": "Created", "~": "Changed", "-": "Deleted"}
EMPTY_VALUE = "(empty)"


def history_author(record) -> str:
    """Who made a historical record: a username, "seed", or "unknown" (a script without one)."""
    if record.history_user_id is not None:
        return record.history_user.get_username()
    if record.history_change_reason == SEED_CHANGE_REASON:
        return SEED_AUTHOR
    return "unknown"


def version_label(record) -> str:
    """ "the version of 28 Nov 2026 21:57 by carol": how a revert names what it restored."""
    when = date_format(timezone.localtime(record.history_date), "j M Y H:i")
    return f"the version of {when} by {history_author(record)}"


def display_value(field, value):
    """A stored value as the form shows it: a vocabulary's label, Yes/No, a list's items."""
    if value is None or value == "" or value == []:
        return EMPTY_VALUE
    if isinstance(field, ManyToManyField):
        return value
    if field.choices:
        return dict(field.flatchoices).get(value, value)
    if isinstance(field, BooleanField):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return value


class CuratedHistoryContextHelper(HistoricalRecordContextHelper):
    """The field-by-field diff with the form's labels for values."""

    def prepare_delta_change_value(self, change, value):
        value = super().prepare_delta_change_value(change, value)
        return display_value(self.model._meta.get_field(change.field), value)


def history_deltas(model_admin, request, records) -> None:
    """Give each record but the oldest its `history_delta_changes` against the one before,
    internal fields left out (what SimpleHistoryAdmin does, with that exclusion)."""
    previous = None
    for current in records:
        if previous is not None:
            previous.history_delta_changes = delta_changes(model_admin.model, previous, current)
        previous = current


def delta_changes(model, newer, older) -> list[dict]:
    """What changed from the historical record `older` to `newer`: [{field, old, new}] with the
    form's labels, internal fields left out."""
    delta = newer.diff_against(older, excluded_fields=INTERNAL_FIELDS, foreign_keys_are_objs=True)
    return CuratedHistoryContextHelper(model, newer).context_for_delta_changes(delta)


class ChangeReasonMixin(forms.Form):
    """Every admin change says why: django-simple-history stores it with the change."""

    change_reason = forms.CharField(
        label="Reason for this change",
        max_length=CHANGE_REASON_LENGTH,
        help_text="Recorded in the history with your name, e.g. 'status from the 2024 "
        "registry update'.",
    )


# The site-wide list of recent changes


class RecentChangesFilter(forms.Form):
    who = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label="Who",
        to_field_name="username",
        empty_label="anyone",
    )
    kind = forms.ChoiceField(required=False, label="What kind of record")
    days = forms.TypedChoiceField(
        required=False,
        label="When",
        coerce=int,
        empty_value=None,
        choices=[("", "any time"), (1, "last day"), (7, "last week"), (30, "last 30 days")],
    )

    def __init__(self, *args, models, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["who"].queryset = get_user_model().objects.filter(is_staff=True)
        self.fields["kind"].choices = [("", "any kind")] + [
            (model._meta.label_lower, model._meta.verbose_name_plural.capitalize())
            for model in models
        ]


RECENT_CHANGES_PER_PAGE = 50


def recent_changes(models, *, user=None, kind: str | None = None, since=None):
    """Historical records of every knowledge-base model, newest first, as rows of
    (history_id, history_date, history_type, history_user_id, history_change_reason,
    object_id, kind): one query, a union of the models' history tables."""
    queries = []
    for model in models:
        if kind and model._meta.label_lower != kind:
            continue
        history = model.history.order_by()
        if user is not None:
            history = history.filter(history_user=user)
        if since is not None:
            history = history.filter(history_date__gte=since)
        queries.append(
            history.annotate(
                nkkb_object_id=F(model._meta.pk.attname),
                nkkb_model=Value(model._meta.label_lower, output_field=CharField()),
            ).values_list(
                "history_id",
                "history_date",
                "history_type",
                "history_user_id",
                "history_change_reason",
                "nkkb_object_id",
                "nkkb_model",
            )
        )
    if not queries:
        return []
    first, *others = queries
    return first.union(*others, all=True).order_by("-history_date", "-history_id")


def recent_records(rows, models: dict) -> list:
    """The historical records of `recent_changes` rows, in their order, with their authors: one
    query per kind of record. `models` maps each kind (label_lower) to its model."""
    records = {}
    for label in {row[6] for row in rows}:
        ids = [row[0] for row in rows if row[6] == label]
        history = models[label].history.filter(history_id__in=ids).select_related("history_user")
        records.update({(label, record.history_id): record for record in history})
    return [records[(row[6], row[0])] for row in rows]


def admin_history_url(model, object_id, history_id) -> str | None:
    """The record's timeline in admin, at this change (None if the model has no admin)."""
    meta = model._meta
    try:
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_history", args=[object_id])
    except NoReverseMatch:
        return None
    return f"{url}#change-{history_id}"


def recent_changes_view(request):
    """/admin/history/: every change to the knowledge base, newest first, by who, what kind of
    record and when; each links to the record's timeline at that change (its diff)."""
    models = {
        model._meta.label_lower: model
        for model in knowledge_base_models()
        if request.user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}")
    }
    if not models:
        raise PermissionDenied
    filters = RecentChangesFilter(request.GET or None, models=models.values())
    who = kind = since = None
    if filters.is_valid():
        who = filters.cleaned_data["who"]
        kind = filters.cleaned_data["kind"] or None
        days = filters.cleaned_data["days"]
        since = timezone.now() - timedelta(days=days) if days else None
    page = Paginator(
        recent_changes(models.values(), user=who, kind=kind, since=since), RECENT_CHANGES_PER_PAGE
    )
    page = page.get_page(request.GET.get("p"))
    rows = list(page.object_list)
    changes = []
    for row, record in zip(rows, recent_records(rows, models), strict=True):
        history_id, date, history_type, _user, reason, object_id, label = row
        changes.append(
            {
                "date": date,
                "action": HISTORY_TYPES.get(history_type, history_type),
                "kind": models[label]._meta.verbose_name.capitalize(),
                "record": str(record.instance),
                "author": history_author(record),
                "reason": reason or "",
                "url": admin_history_url(models[label], object_id, history_id),
            }
        )
    query = request.GET.copy()
    query.pop("p", None)
    context = {
        **admin.site.each_context(request),
        "title": "Recent changes",
        "filters": filters,
        "changes": changes,
        "page_obj": page,
        "query": query.urlencode(),
    }
    return render(request, "nkkb_admin/recent_changes.html", context)
