"""What every knowledge-base admin shares: history with diff and revert, provenance, filters
that are the public FilterSets, a constant number of queries per list, CSV export, and saves that
become proposals for review (nkkb.core.proposals); and the admin of proposals."""

import django_filters
from concurrency.exceptions import RecordModifiedError
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import flatten
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import router, transaction
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.text import capfirst
from simple_history.admin import SimpleHistoryAdmin
from simple_history.manager import SIMPLE_HISTORY_REVERSE_ATTR_NAME
from simple_history.utils import get_m2m_reverse_field_name

from .exports import write_records_csv
from .facets import facet_count
from .history import (
    CHANGE_REASON_LENGTH,
    HISTORY_TYPES,
    ChangeReasonMixin,
    history_author,
    history_deltas,
    version_label,
)
from .models import Proposal, ProposalStatus
from .proposals import (
    proposable_fields,
    proposal_accept,
    proposal_create,
    proposal_diff,
    proposal_is_stale,
    proposal_rebase,
    proposal_record,
    proposal_reject,
    review_required,
)

PROVENANCE_FIELDSET = (
    "Provenance in the review",
    {"fields": ("source_section", "source_references", "source_quote", "source_summary")},
)
# `version` is a hidden input: the version the curator's edit is based on (optimistic locking).
RECORD_FIELDSET = ("Record", {"fields": ("created", "last_updated", "version")})
READ_ONLY_RECORD_FIELDS = ("created", "last_updated")
# Filters that offer a choice of values, which admin shows as a list of links.
CHOICE_FILTERS = (
    django_filters.ChoiceFilter,
    django_filters.MultipleChoiceFilter,
    django_filters.BooleanFilter,
)


def filterset_list_filters(filterset_class) -> list[type[admin.SimpleListFilter]]:
    """Admin list filters that are the FilterSet's own filters: same names, same behaviour.

    The free-text `q` is admin's search box and `ordering` its column headers.
    """
    return [
        _filterset_list_filter(filterset_class, name)
        for name, definition in filterset_class.base_filters.items()
        if isinstance(definition, CHOICE_FILTERS)
        and not isinstance(definition, django_filters.OrderingFilter)
    ]


def _filterset_list_filter(filterset_class, name: str) -> type[admin.SimpleListFilter]:
    definition = filterset_class.base_filters[name]

    class FilterSetListFilter(admin.SimpleListFilter):
        title = definition.label
        parameter_name = name

        def lookups(self, request, model_admin):
            if isinstance(definition, django_filters.BooleanFilter):
                return [("true", "Yes"), ("false", "No")]
            options = [(str(value), label) for value, label in definition.field.choices]
            if name not in getattr(filterset_class, "facet_paths", {}):
                return options
            # As on the public list: only options in use, each with the number of records it
            # would leave given the other filters (options of one filter are OR-ed).
            filters = {
                key: request.GET.getlist(key)
                for key in request.GET
                if key in filterset_class.base_filters
                and (key != name or name in getattr(filterset_class, "conjoined_facets", ()))
            }
            counts = facet_count(filterset_class, name, filters)
            selected = self.value()
            return [
                (value, f"{label} ({counts.get(value, 0)})")
                for value, label in options
                if counts.get(value) or value == selected
            ]

        def queryset(self, request, queryset):
            if self.value() is None:
                return queryset
            data = QueryDict(mutable=True)
            data[name] = self.value()
            filterset = filterset_class(data, queryset=queryset, request=request)
            if not filterset.is_valid():
                raise IncorrectLookupParameters(filterset.errors)
            return filterset.qs

    FilterSetListFilter.__name__ = f"{filterset_class.__name__}_{name}"
    return FilterSetListFilter


def related_names(field_name: str, description: str):
    """A list column naming a record's related records (prefetch `field_name`)."""

    @admin.display(description=description)
    def column(obj):
        return ", ".join(str(related) for related in getattr(obj, field_name).all())

    return column


class ReferenceNumbersField(forms.Field):
    """The review's reference numbers as a curator types them, "95, 96"; the list [95, 96]."""

    widget = forms.TextInput

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(str(number) for number in value)
        return value

    def to_python(self, value):
        if isinstance(value, list):
            return value
        parts = [part.strip() for part in (value or "").replace(";", ",").split(",")]
        try:
            return [int(part) for part in parts if part]
        except ValueError:
            raise forms.ValidationError(
                "Reference numbers are whole numbers separated by commas, e.g. 95, 96.",
                code="invalid_references",
            ) from None


class CuratedFieldsMixin:
    """Form fields of curated records as curators type them, in model admins and inlines."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "source_references":
            return ReferenceNumbersField(
                label=capfirst(db_field.verbose_name),
                required=not db_field.blank,
                help_text="The review's reference numbers that support this record, separated "
                "by commas, e.g. 95, 96.",
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)


STALE_EDIT_MESSAGE = (
    "Someone else saved this record after you opened it. Nothing was saved: reload the page to "
    "see their change, then make yours again."
)
# The form's check passed, but another save landed before this one reached the database.
STALE_SAVE_MESSAGE = (
    "Someone else saved this record while you were saving it. Nothing was saved: the page now "
    "shows their change; make yours again."
)


class OptimisticLockForm(forms.ModelForm):
    """A form that refuses an edit based on a version that is no longer current (optimistic
    locking), so that two curators editing one record never silently lose either edit."""

    def clean(self):
        cleaned_data = super().clean()
        version = cleaned_data.get("version")
        if self.instance.pk and version is not None:
            current = type(self.instance)._default_manager.filter(pk=self.instance.pk)
            if not current.filter(version=version).exists():
                raise forms.ValidationError(STALE_EDIT_MESSAGE, code="stale")
        return cleaned_data


class LabelledInlineFormSet(BaseInlineFormSet):
    """A table of forms whose every control has a name of its own for screen readers (a
    tabular inline's column headers are not labels)."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        row = "new row" if index is None else f"row {index + 1}"
        for field in form.fields.values():
            field.widget.attrs.setdefault("aria-label", f"{field.label}, {row}")


class CuratedInlineMixin(CuratedFieldsMixin):
    """Records edited on their parent's form carry their own version (a hidden input), so that
    a row someone else changed on its own page since is refused rather than written back."""

    form = OptimisticLockForm
    extra = 0

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        versioned = any(field.name == "version" for field in self.model._meta.concrete_fields)
        # Rows shown read-only (on a form that proposes) are not saved, nor is their version.
        if not versioned or "version" in flatten(fields):
            return fields
        return [*fields, "version"] if self.has_change_permission(request, obj) else fields


class CuratedTabularInline(CuratedInlineMixin, admin.TabularInline):
    formset = LabelledInlineFormSet


class CuratedStackedInline(CuratedInlineMixin, admin.StackedInline):
    pass


@admin.display(description="Updated", ordering="last_updated")
def updated(obj):
    """The day a record last changed: a list column narrower than its full time."""
    return obj.last_updated.date().isoformat()


class RevertibleForm(ChangeReasonMixin, OptimisticLockForm):
    """The form of every knowledge-base record.

    It asks why (the reason goes into the history with the change), and it refuses an edit
    based on a version that is no longer current (OptimisticLockForm). On the history page's
    revert form the instance is a past version: it takes that version's many-to-many values too,
    and its reason names the version (django-simple-history fills only the record's own fields).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        version = getattr(self.instance, SIMPLE_HISTORY_REVERSE_ATTR_NAME, None)
        if version is None:
            return
        # A revert deliberately replaces the current record: base it on the current version
        # (the optimistic lock would otherwise refuse the past version's number).
        self.initial["change_reason"] = f"Reverted to {version_label(version)}"[
            :CHANGE_REASON_LENGTH
        ]
        current = type(self.instance)._default_manager.filter(pk=self.instance.pk).first()
        if current is not None and hasattr(current, "version"):
            self.instance.version = self.initial["version"] = current.version
        for field in version._history_m2m_fields:
            if field.name in self.fields:
                rows = getattr(version, field.name)
                self.initial[field.name] = list(
                    rows.values_list(get_m2m_reverse_field_name(field), flat=True)
                )


class ProposalSourceMixin(forms.Form):
    """A save that becomes a proposal also says where its facts come from."""

    proposal_source = forms.CharField(
        label="Source of this change",
        max_length=200,
        help_text="Where the reviewer can check it, e.g. 'ClinicalTrials.gov, update of "
        "2024-05-02' or 'PMID 31234567'.",
    )


def _refuse(*args, **kwargs) -> bool:
    return False


@admin.action(description="Export selected as CSV", permissions=["view"])
def export_csv(modeladmin, request, queryset):
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = modeladmin.model._meta.verbose_name_plural.replace(" ", "-")
    response["Content-Disposition"] = f'attachment; filename="nkkb-{name}.csv"'
    write_records_csv(queryset, response)
    return response


class CuratedAdmin(CuratedFieldsMixin, SimpleHistoryAdmin):
    """Admin for a knowledge-base model: history (who, when, field-by-field diff, revert), a
    "view on site" link, CSV export, and `list_prefetch_related` for many-to-many columns."""

    form = RevertibleForm
    actions = [export_csv]
    object_history_list_template = "nkkb_admin/object_history_list.html"

    class Media:
        css = {"all": ("nkkb_admin/admin.css",)}
        js = ("nkkb_admin/admin.js",)

    list_per_page = 50
    list_prefetch_related: tuple[str, ...] = ()
    # The model's public FilterSet: admin's list filters and search box are the pages' and the
    # API's (for trials, the full-text index).
    filterset_class = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.filterset_class is not None:
            # Class attributes, not get_* methods: admin's checks (autocomplete needs
            # search_fields) read them as they are.
            cls.list_filter = filterset_list_filters(cls.filterset_class)
            cls.search_fields = cls.filterset_class.search_fields

    def get_fieldsets(self, request, obj=None):
        """The model's fieldsets, then the reason for this change (and, for a proposal, its
        source), last, beside Save."""
        why = ["change_reason", "proposal_source"]
        fieldsets = [
            (name, {**options, "fields": [f for f in options["fields"] if f not in why]})
            for name, options in super().get_fieldsets(request, obj)
        ]
        if not self.proposes(request, obj):
            why.remove("proposal_source")
        return [*fieldsets, ("Why", {"fields": why})]

    # Review: a contributor's save, and a curator's save of an existing record while
    # NKKB_REVIEW_REQUIRED is on, becomes a proposal that another curator accepts or rejects.

    def proposes(self, request, obj=None) -> bool:
        """Whether saving this record's form makes a proposal rather than a change.

        Administrators (superusers) save directly; a curator's new record is saved directly too,
        as nothing public changes until it is linked from a published one.
        """
        user = request.user
        if user.is_superuser or not user.has_perm("core.add_proposal"):
            return False
        meta = self.model._meta
        action = "add" if obj is None else "change"
        if not user.has_perm(f"{meta.app_label}.{action}_{meta.model_name}"):
            return True
        return obj is not None and review_required()

    def _may_propose(self, request) -> bool:
        return request.user.has_perm("core.add_proposal") and self.has_view_permission(request)

    def has_add_permission(self, request):
        return super().has_add_permission(request) or self._may_propose(request)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) or self._may_propose(request)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if self.proposes(request, obj):
            form = kwargs.get("form", self.form)
            kwargs["form"] = type(f"Proposed{form.__name__}", (ProposalSourceMixin, form), {})
        return super().get_form(request, obj, change, **kwargs)

    def get_inline_instances(self, request, obj=None):
        inlines = super().get_inline_instances(request, obj)
        if self.proposes(request, obj):
            # A proposal changes one record: the records shown inline are proposed on their own
            # pages, so here they are read-only (the admin then neither validates nor saves them).
            for inline in inlines:
                inline.max_num = 0
                inline.has_add_permission = inline.has_change_permission = _refuse
                inline.has_delete_permission = _refuse
        return inlines

    def save_model(self, request, obj, form, change):
        if not self.proposes(request, obj if change else None):
            obj._change_reason = form.cleaned_data.get("change_reason")
            super().save_model(request, obj, form, change)
            return
        # The instance holds the form's values as the model cleaned them (an NCT number
        # normalised); many-to-many values are only in the form.
        values = {
            field.name: (
                form.cleaned_data[field.name] if field.many_to_many else getattr(obj, field.attname)
            )
            for field in proposable_fields(self.model)
            if field.name in form.cleaned_data
        }
        try:
            request.nkkb_proposal = proposal_create(
                proposer=request.user,
                model=self.model,
                object_id=obj.pk if change else None,
                values=values,
                source=form.cleaned_data["proposal_source"],
                reason=form.cleaned_data["change_reason"],
                base_version=form.cleaned_data.get("version") if change else None,
            )
        except ValidationError as error:
            request.nkkb_proposal = None
            request.nkkb_proposal_error = " ".join(error.messages)
        # The history page's revert saves many-to-many values itself, not through save_related.
        form.save_m2m = _refuse

    def _proposing(self, request) -> bool:
        return hasattr(request, "nkkb_proposal")

    def save_related(self, request, form, formsets, change):
        if not self._proposing(request):
            super().save_related(request, form, formsets, change)

    def construct_change_message(self, request, form, formsets, add=False):
        # Nothing was saved, so there is no change to describe (nor a log entry to write).
        if self._proposing(request):
            return []
        return super().construct_change_message(request, form, formsets, add)

    def log_addition(self, request, obj, message):
        if not self._proposing(request):
            return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        if not self._proposing(request):
            return super().log_change(request, obj, message)

    def _proposal_response(self, request, obj):
        proposal = request.nkkb_proposal
        if proposal is None:
            self.message_user(request, request.nkkb_proposal_error, messages.WARNING)
        else:
            self.message_user(
                request,
                f"Your change was not saved yet: it is {proposal}, for another curator to review.",
                messages.SUCCESS,
            )
            if request.user.has_perm("core.view_proposal"):
                return HttpResponseRedirect(proposal.get_absolute_url())
        meta = self.model._meta
        if obj.pk is None:
            return HttpResponseRedirect(reverse(f"admin:{meta.app_label}_{meta.model_name}_add"))
        return HttpResponseRedirect(
            reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
        )

    def response_add(self, request, obj, post_url_continue=None):
        if self._proposing(request):
            return self._proposal_response(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def save_formset(self, request, form, formset, change):
        # The inline records (a trial's agents, results) changed for the same reason.
        for inline_form in formset.forms:
            inline_form.instance._change_reason = form.cleaned_data.get("change_reason")
        super().save_formset(request, form, formset, change)

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        history_deltas(self, request, historical_records)
        for record in historical_records:
            record.author = history_author(record)
            record.action = HISTORY_TYPES.get(record.history_type, record.history_type)

    # Optimistic locking at save time: the form checks the version it was based on, but another
    # save may land between that check and this save's UPDATE, which django-concurrency then
    # refuses (RecordModifiedError). The whole save is rolled back and the curator told so.

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Admin saves a change form, inlines included, in one transaction.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except RecordModifiedError:
            return self._stale_save_response(request)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "POST":
            return super().history_form_view(request, object_id, version_id, extra_context)
        history = self.model.history.select_related("history_user")
        request.nkkb_reverted_to = history.filter(history_id=version_id).first()
        # A revert saves the record, then its many-to-many values: all or nothing, as above.
        try:
            with transaction.atomic(using=router.db_for_write(self.model)):
                return super().history_form_view(request, object_id, version_id, extra_context)
        except RecordModifiedError:
            return self._stale_save_response(request)

    def _stale_save_response(self, request):
        self.message_user(request, STALE_SAVE_MESSAGE, messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    def response_change(self, request, obj):
        if self._proposing(request):
            return self._proposal_response(request, obj)
        version = getattr(request, "nkkb_reverted_to", None)
        if version is None:
            return super().response_change(request, obj)
        self.message_user(
            request,
            f"{obj} was reverted to {version_label(version)}, by {request.user.get_username()}.",
            messages.SUCCESS,
        )
        meta = self.model._meta
        return HttpResponseRedirect(
            reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
        )

    def get_search_results(self, request, queryset, search_term):
        if self.filterset_class is None or not search_term.split():
            return super().get_search_results(request, queryset, search_term)
        return self.filterset_class.search_words(queryset, search_term.split()), False

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), *self._record_fields())

    def _record_fields(self) -> tuple[str, ...]:
        names = {field.name for field in self.model._meta.concrete_fields}
        return tuple(name for name in READ_ONLY_RECORD_FIELDS if name in names)

    def get_changelist(self, request, **kwargs):
        prefetch = self.list_prefetch_related

        class PrefetchingChangeList(ChangeList):
            def get_queryset(self, request, exclude_parameters=None):
                return super().get_queryset(request, exclude_parameters).prefetch_related(*prefetch)

        return PrefetchingChangeList


class ProposalReviewForm(forms.Form):
    comment = forms.CharField(
        label="Comment",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required to reject: tell the contributor why.",
    )


# The review page's buttons, each the service it runs.
REVIEW_ACTIONS = ("accept", "reject", "rebase")


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):
    """Proposals to review: open ones first, each page a diff against the current record with
    Accept, Reject (with a comment) and, when the record changed meanwhile, Rebase."""

    list_display = ("__str__", "status", "proposed_by", "created", "reviewed_by")
    list_filter = ("status", "content_type")
    list_select_related = ("content_type", "proposed_by", "reviewed_by")
    search_fields = ("reason", "source", "proposed_by__username")
    review_template = "nkkb_admin/proposal_review.html"

    class Media:
        css = {"all": ("nkkb_admin/admin.css",)}

    def get_queryset(self, request):
        # Contributors follow their own proposals; curators see everyone's.
        queryset = super().get_queryset(request)
        if request.user.has_perm("core.change_proposal"):
            return queryset
        return queryset.filter(proposed_by=request.user)

    def has_add_permission(self, request):
        # A proposal is made from the record's own form.
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def change_view(self, request, object_id, form_url="", extra_context=None):
        proposal = self.get_object(request, object_id)
        if proposal is None:
            raise Http404("No such proposal.")
        if not self.has_view_permission(request, proposal):
            raise PermissionDenied
        form = ProposalReviewForm(request.POST or None)
        if request.method == "POST":
            return self._review(request, proposal, form)
        record = proposal_record(proposal)
        user = request.user
        context = {
            **self.admin_site.each_context(request),
            "title": str(proposal),
            "opts": self.model._meta,
            "proposal": proposal,
            "kind": proposal.content_type.model_class()._meta.verbose_name,
            "record": record,
            "diff": proposal_diff(proposal, record),
            "stale": proposal_is_stale(proposal, record),
            "can_review": proposal.status == ProposalStatus.OPEN
            and user.has_perm("core.change_proposal")
            and user.pk != proposal.proposed_by_id,
            "can_rebase": proposal.status == ProposalStatus.OPEN
            and (user.has_perm("core.change_proposal") or user.pk == proposal.proposed_by_id),
            "form": form,
            "record_url": _record_admin_url(proposal, record),
        }
        return render(request, self.review_template, context)

    def _review(self, request, proposal, form):
        action = next((name for name in REVIEW_ACTIONS if name in request.POST), None)
        if action is None or not form.is_valid():
            return HttpResponseRedirect(request.path)
        comment = form.cleaned_data["comment"]
        try:
            if action == "accept":
                proposal_accept(proposal=proposal, reviewer=request.user, comment=comment)
                message = f"{proposal} was accepted and applied."
            elif action == "reject":
                proposal_reject(proposal=proposal, reviewer=request.user, comment=comment)
                message = f"{proposal} was rejected."
            else:
                proposal_rebase(proposal=proposal, user=request.user)
                message = f"{proposal} is now based on the current record: check the new diff."
        except (ValidationError, PermissionDenied) as error:
            text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            self.message_user(request, text, messages.ERROR)
        else:
            self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(request.path)


def _record_admin_url(proposal, record) -> str | None:
    if record is None:
        return None
    meta = record._meta
    try:
        return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[record.pk])
    except NoReverseMatch:  # a model without an admin page
        return None
