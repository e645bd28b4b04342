"""The base every FilterSet builds on: one free-text `q` parameter, the same on pages and API,
and filters that never need DISTINCT."""

import copy
import functools
from functools import reduce
from operator import and_, or_

import django_filters
from django import forms
from django.contrib.admin.utils import lookup_spawns_duplicates
from django.db.models import Case, CharField, F, Q, QuerySet, Value, When
from django.db.models.functions import Lower


def choices_read_from(*models):
    """Names the models a choices function reads: the facet panel keeps its options until one
    of them is written (nkkb.core.views)."""

    def mark(choices):
        choices.read_from = models
        return choices

    return mark


def matching(queryset, condition: Q, lookups):
    """`queryset` narrowed to the records that meet `condition`, each record once.

    Where a lookup goes through a to-many relation, the condition is tested in a subquery
    (`pk IN (...)`) instead of a join: a join repeats a record once per related match and needs
    DISTINCT, and DISTINCT makes the count of a list, and each facet count, compare every column
    of every row (most of a filtered list's time at 100,000 trials).
    """
    model = queryset.model
    if any(lookup_spawns_duplicates(model._meta, lookup) for lookup in lookups):
        return queryset.filter(pk__in=model._default_manager.filter(condition).values("pk"))
    return queryset.filter(condition)


BOOLEAN_VALUES = {"true": True, "True": True, "1": True, "false": False, "False": False, "0": False}


class StrictBooleanSelect(forms.NullBooleanSelect):
    """Passes the value as sent, for the field to judge (Django's reads any other as unknown)."""

    def value_from_datadict(self, data, files, name):
        return data.get(name)


class StrictBooleanField(forms.NullBooleanField):
    """`true` or `false` (or nothing); anything else is an error rather than no filter at all."""

    widget = StrictBooleanSelect

    def to_python(self, value):
        if value in (None, "", "unknown"):
            return None
        if value not in BOOLEAN_VALUES:
            raise forms.ValidationError(f"Select true or false, not {value!r}.", code="invalid")
        return BOOLEAN_VALUES[value]


# A fact that may be unrecorded (a nullable boolean) is filtered by one of three values; the
# filter's absence means any of them.
RECORDED_BOOLEAN_CHOICES = [("true", "Yes"), ("false", "No"), ("unknown", "Not recorded")]


def _recorded_boolean_conditions(field: str) -> dict[str, Q]:
    return {
        "true": Q(**{field: True}),
        "false": Q(**{field: False}),
        "unknown": Q(**{f"{field}__isnull": True}),
    }


def recorded_boolean_condition(field: str, values) -> Q:
    """Records whose nullable boolean `field` is one of `values` (true, false, unknown)."""
    conditions = _recorded_boolean_conditions(field)
    return reduce(or_, (conditions[value] for value in dict.fromkeys(values)))


def recorded_boolean_rows(model, field: str) -> list[QuerySet]:
    """(facet_value: true, false or unknown, facet_result: id) rows of every record of `model`:
    the facet of a filter on nullable boolean `field`, each value given by the condition its
    filter applies (recorded_boolean_condition), so that a count is what its option lists."""
    value = Case(
        *(
            When(condition, then=Value(value))
            for value, condition in _recorded_boolean_conditions(field).items()
        ),
        output_field=CharField(),
    )
    return [model._default_manager.order_by().values(facet_value=value, facet_result=F("pk"))]


class DeclaredFilters(dict):
    """A FilterSet class's filters (`base_filters`), of which django-filter gives each FilterSet
    a deep copy. Here each FilterSet gets copies of the filters alone: what a filter holds from
    its declaration (choices, querysets, its form field) no filter changes, and deep-copying it
    for every filter was much of the cost of building a FilterSet and validating its form, on
    every filtered list (BENCHMARKS.md, "Issue 17, twelfth round")."""

    def __deepcopy__(self, memo):
        return {name: _filter_of_one_filterset(filter_) for name, filter_ in self.items()}


def _filter_of_one_filterset(filter_):
    copied = copy.copy(filter_)
    copied.extra = dict(filter_.extra)  # django-filter may set its queryset per request
    if filter_.method is not None:
        # Bound anew: a method filter calls the method of its own FilterSet (its `parent`).
        copied.method = filter_.method
    return copied


class SearchFilterSet(django_filters.FilterSet):
    """A FilterSet with a free-text search over the lookups listed in `search_fields`."""

    search_fields: tuple[str, ...] = ()
    search_description = "Text matched as one phrase, case-insensitive, against: {fields}."
    # Facets a list page counts (see nkkb.facets); those whose options are AND-ed.
    facet_paths: dict[str, tuple[str, ...]] = {}
    conjoined_facets: frozenset[str] = frozenset()

    q = django_filters.CharFilter(method="search", label="Search")

    @classmethod
    def get_filters(cls):
        """Every filter, its true/false filters strict (`acts_through_cd16=maybe` is a 400)."""
        filters = super().get_filters()
        for filter_ in filters.values():
            if isinstance(filter_, django_filters.BooleanFilter):
                filter_.field_class = StrictBooleanField
        return DeclaredFilters(filters)

    def get_form_class(self):
        return _form_class(type(self))

    def search(self, queryset, name, value):
        """`q`: its whole text, as one phrase, in one of the search fields."""
        value = value.strip()
        return self.search_words(queryset, [value]) if value else queryset

    @classmethod
    def search_words(cls, queryset, words: list[str]):
        """The records in which each of `words` appears (case-insensitive) in a search field."""
        condition = reduce(
            and_,
            (
                reduce(or_, (Q(**{f"{field}__icontains": word}) for field in cls.search_fields))
                for word in words
            ),
        )
        return matching(queryset, condition, cls.search_fields)


@functools.cache
def _form_class(filterset_class):
    """The form of `filterset_class`, built once: django-filter builds a form class and each of
    its fields for every FilterSet, though they depend on the class alone (choices given as a
    function are still read each time the form is used). Its forms share its fields."""
    form_class = super(SearchFilterSet, filterset_class()).get_form_class()
    form_class.base_fields = SharedFields(form_class.base_fields)
    return form_class


class SharedFields(dict):
    """A filter form class's fields, which each of its forms shares but for choices of records:
    Django gives each form a deep copy, so that a form may change its own fields, and no filter
    form does; the copy was the largest part of building a FilterSet's form on every filtered
    list (BENCHMARKS.md, "Issue 17, fourteenth round"). A field choosing records is copied as
    Django copies it, for its queryset: one shared would keep the records it first read."""

    def __deepcopy__(self, memo):
        return {
            name: copy.deepcopy(field, memo) if isinstance(field, forms.ModelChoiceField) else field
            for name, field in self.items()
        }


def no_value(value) -> bool:
    """Whether a filter was given nothing. An empty choice of records is an empty QuerySet,
    which `not value` would run (its query compiled, only to find it empty)."""
    return value.query.is_empty() if isinstance(value, QuerySet) else not value


class MultipleChoiceFilter(django_filters.MultipleChoiceFilter):
    """Options OR-ed; through a to-many relation, a subquery rather than a join and DISTINCT."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, distinct=False, **kwargs)

    def filter(self, qs, value):
        if no_value(value):
            return qs
        if not lookup_spawns_duplicates(qs.model._meta, self.field_name):
            return super().filter(qs, value)
        unfiltered = qs.model._default_manager.all()
        filtered = super().filter(unfiltered, value)
        return qs if filtered is unfiltered else qs.filter(pk__in=filtered.values("pk"))


class ModelMultipleChoiceFilter(django_filters.ModelMultipleChoiceFilter, MultipleChoiceFilter):
    pass


class NullsLastOrderingFilter(django_filters.OrderingFilter):
    """`ordering` that puts empty values last in both directions, on SQLite and PostgreSQL alike.

    (PostgreSQL sorts NULL as the largest value, SQLite as the smallest.)
    """

    # Names sorted as readers expect ("alemtuzumab" before "TILT-123"), not by code point.
    CASE_INSENSITIVE = frozenset({"name"})

    def filter(self, qs, value):
        # Only empty values (`ordering=,`) keep the default order rather than remove every order.
        params = [param for param in value or () if param]
        ordered = super().filter(qs, params)
        if not params:
            return ordered
        # Ties in the order asked for follow the model's own order, so that the pages of a sort
        # with ties (phase, status) neither repeat nor skip a record, however they are read.
        return ordered.order_by(*ordered.query.order_by, *qs.model._meta.ordering, "pk")

    def get_ordering_value(self, param):
        descending = param.startswith("-")
        name = self.param_map[param.lstrip("-")]
        field = Lower(name) if name in self.CASE_INSENSITIVE else F(name)
        return field.desc(nulls_last=True) if descending else field.asc(nulls_last=True)


def slug_filter(model, *, label: str, help_text: str, field_name: str | None = None, **kwargs):
    """A filter naming records of `model` by slug (`?agent=n-803&agent=il-2`); unknown slugs are
    a validation error (400 in the API, a message on the pages)."""
    if field_name is not None:
        # With to_field_name, django-filter compares the related field to the slug itself.
        kwargs["field_name"] = f"{field_name}__slug"
    return ModelMultipleChoiceFilter(
        to_field_name="slug",
        queryset=model.objects.all(),
        label=label,
        help_text=help_text,
        **kwargs,
    )


class IntegerRangeFilter(django_filters.RangeFilter):
    """`<name>_min` and `<name>_max`, whole numbers from 0, either optional."""

    class field_class(django_filters.fields.RangeField):
        def __init__(self, *args, **kwargs):
            bound = forms.IntegerField(min_value=0, max_value=1_000_000_000)
            super().__init__((bound, bound), *args, **kwargs)


@functools.cache
def filter_parameters(filterset_class) -> tuple[str, ...]:
    """The query parameters a FilterSet reads: each filter's name, or its suffixed names (a
    range's `<name>_min` and `<name>_max`)."""
    names = []
    for name, field in filterset_class().form.fields.items():
        widget = field.widget
        if hasattr(widget, "suffixes"):
            names += [widget.suffixed(name, suffix) for suffix in widget.suffixes]
        else:
            names.append(name)
    return tuple(names)
