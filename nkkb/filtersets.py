"""The base every FilterSet builds on: one free-text `q` parameter, the same on pages and API."""

from functools import reduce
from operator import or_

import django_filters
from django.db.models import Q


class SearchFilterSet(django_filters.FilterSet):
    """A FilterSet with a free-text search over the lookups listed in `search_fields`."""

    search_fields: tuple[str, ...] = ()

    q = django_filters.CharFilter(method="search", label="Search")

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        condition = reduce(
            or_, (Q(**{f"{field}__icontains": value}) for field in self.search_fields)
        )
        return queryset.filter(condition).distinct()
