"""The base every FilterSet builds on: one free-text `q` parameter, the same on pages and API,
and filters that never need DISTINCT."""

from functools import reduce
from operator import and_, or_

import django_filters
from django.contrib.admin.utils import lookup_spawns_duplicates
from django.db.models import F, Q


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


class SearchFilterSet(django_filters.FilterSet):
    """A FilterSet with a free-text search over the lookups listed in `search_fields`."""

    search_fields: tuple[str, ...] = ()
    search_description = "Text matched as one phrase, case-insensitive, against: {fields}."
    # Facets a list page counts (see nkkb.facets); those whose options are AND-ed.
    facet_paths: dict[str, tuple[str, ...]] = {}
    conjoined_facets: frozenset[str] = frozenset()

    q = django_filters.CharFilter(method="search", label="Search")

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


class MultipleChoiceFilter(django_filters.MultipleChoiceFilter):
    """Options OR-ed; through a to-many relation, a subquery rather than a join and DISTINCT."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, distinct=False, **kwargs)

    def filter(self, qs, value):
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

    def filter(self, qs, value):
        # Only empty values (`ordering=,`) keep the default order rather than remove every order.
        return super().filter(qs, [param for param in value or () if param])

    def get_ordering_value(self, param):
        descending = param.startswith("-")
        field = F(self.param_map[param.lstrip("-")])
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
