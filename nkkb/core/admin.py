"""What every knowledge-base admin shares: history with diff and revert, provenance, filters
that are the public FilterSets, a constant number of queries per list, and CSV export."""

import django_filters
from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.http import HttpResponse, QueryDict
from simple_history.admin import SimpleHistoryAdmin
from simple_history.manager import SIMPLE_HISTORY_REVERSE_ATTR_NAME
from simple_history.utils import get_m2m_reverse_field_name

from .exports import write_records_csv

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
            return [(str(value), label) for value, label in definition.field.choices]

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


STALE_EDIT_MESSAGE = (
    "Someone else saved this record after you opened it. Nothing was saved: reload the page to "
    "see their change, then make yours again."
)


class RevertibleForm(forms.ModelForm):
    """The form of every knowledge-base record.

    It refuses an edit based on a version that is no longer current (optimistic locking), so
    that two curators editing one record never silently lose either edit. On the history page's
    revert form the instance is a past version: it takes that version's many-to-many values too
    (django-simple-history fills only the record's own fields).
    """

    def clean(self):
        cleaned_data = super().clean()
        version = cleaned_data.get("version")
        if self.instance.pk and version is not None:
            current = type(self.instance)._default_manager.filter(pk=self.instance.pk)
            if not current.filter(version=version).exists():
                raise forms.ValidationError(STALE_EDIT_MESSAGE, code="stale")
        return cleaned_data

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        version = getattr(self.instance, SIMPLE_HISTORY_REVERSE_ATTR_NAME, None)
        if version is None:
            return
        # A revert deliberately replaces the current record: base it on the current version
        # (the optimistic lock would otherwise refuse the past version's number).
        current = type(self.instance)._default_manager.filter(pk=self.instance.pk).first()
        if current is not None and hasattr(current, "version"):
            self.instance.version = self.initial["version"] = current.version
        for field in version._history_m2m_fields:
            if field.name in self.fields:
                rows = getattr(version, field.name)
                self.initial[field.name] = list(
                    rows.values_list(get_m2m_reverse_field_name(field), flat=True)
                )


@admin.action(description="Export selected as CSV", permissions=["view"])
def export_csv(modeladmin, request, queryset):
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = modeladmin.model._meta.verbose_name_plural.replace(" ", "-")
    response["Content-Disposition"] = f'attachment; filename="nkkb-{name}.csv"'
    write_records_csv(queryset, response)
    return response


class CuratedAdmin(SimpleHistoryAdmin):
    """Admin for a knowledge-base model: history (who, when, field-by-field diff, revert), a
    "view on site" link, CSV export, and `list_prefetch_related` for many-to-many columns."""

    form = RevertibleForm
    actions = [export_csv]
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
