"""The base every FilterSet builds on: one free-text `q` parameter, the same on pages and API."""

from functools import reduce
from operator import or_

import django_filters
from django.db.models import F, Q


class SearchFilterSet(django_filters.FilterSet):
    """A FilterSet with a free-text search over the lookups listed in `search_fields`."""

    search_fields: tuple[str, ...] = ()
    # Facets a list page counts (see nkkb.facets); those whose options are AND-ed.
    facet_paths: dict[str, tuple[str, ...]] = {}
    conjoined_facets: frozenset[str] = frozenset()

    q = django_filters.CharFilter(method="search", label="Search")

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        condition = reduce(
            or_, (Q(**{f"{field}__icontains": value}) for field in self.search_fields)
        )
        return queryset.filter(condition).distinct()


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
    return django_filters.ModelMultipleChoiceFilter(
        to_field_name="slug",
        queryset=model.objects.all(),
        label=label,
        help_text=help_text,
        **kwargs,
    )
