"""Facet counts: for each option of a filter, how many results it would leave.

As on ClinicalTrials.gov, an option's count applies every other active filter, so options of one
filter can be combined (they are OR-ed) while the other filters narrow the counts. A filter whose
options are AND-ed (listed in the FilterSet's `conjoined_facets`) counts within its own selection.
"""

import hashlib
from collections import Counter

import django_filters
from django.contrib.admin.utils import lookup_spawns_duplicates
from django.core.cache import caches
from django.db.models import Count, F
from django.db.models.constants import LOOKUP_SEP
from django.http import QueryDict
from django.utils.http import urlencode

from .caching import data_version

# Counts per data version: many requests share the filters a facet's counts depend on (other
# pages, orderings, page sizes, options of the same facet), and at 100,000 trials one facet
# takes 0.01 to 0.3 s to count.
FACET_CACHE = "facets"


def facet_counts(filterset) -> dict[str, dict[str, int]]:
    """{filter name: {option value: count}} for every filter named in `filterset.facet_paths`.

    `facet_paths` maps a filter name to the lookups that give a result's values for it; a
    filter with two paths (a trial's targets come through agents and NK products) counts a
    result once per value whichever path it came by. A FilterSet method `count_<name>` replaces
    the paths where a value is derived rather than stored.
    """
    version, _ = data_version()
    active = {
        name: filterset.data.getlist(name)
        for name, definition in filterset.filters.items()
        if name in filterset.data and not isinstance(definition, django_filters.OrderingFilter)
    }
    return {
        name: facet_count(
            type(filterset),
            name,
            {
                key: values
                for key, values in active.items()
                if key != name or name in filterset.conjoined_facets
            },
            version=version,
        )
        for name in filterset.facet_paths
    }


def facet_count(filterset_class, name: str, filters: dict[str, list[str]], *, version: str):
    """{option value: count} of facet `name` among the results that `filters` leave, kept in
    the facets cache for data version `version`."""
    query = urlencode(sorted((key, sorted(values)) for key, values in filters.items()), doseq=True)
    key = ":".join(
        (filterset_class.__qualname__, name, version, hashlib.sha256(query.encode()).hexdigest())
    )
    counts = caches[FACET_CACHE].get(key)
    if counts is None:
        data = QueryDict(mutable=True)
        for parameter, values in filters.items():
            data.setlist(parameter, values)
        filterset = filterset_class(data, queryset=filterset_class._meta.model.objects.all())
        queryset = filterset.qs.order_by() if filterset.is_valid() else filterset.queryset.none()
        count = getattr(filterset, f"count_{name}", None)
        counts = count(queryset) if count else facet_values(queryset, filterset.facet_paths[name])
        caches[FACET_CACHE].set(key, counts)
    return counts


def facet_values(queryset, paths: tuple[str, ...]) -> dict[str, int]:
    """Grouped counts in the database, one query per path (plus one for the overlap of two)."""
    if len(paths) > 2:
        raise ValueError("A facet counts through one or two paths.")
    counts = Counter()
    for path in paths:
        counts.update(_grouped(queryset, path))
    if len(paths) == 2:
        # Results that reach a value by both paths were counted twice.
        first, second = paths
        counts.subtract(_grouped(queryset.filter(**{first: F(second)}), first))
    return {value: count for value, count in counts.items() if count}


def _grouped(queryset, path: str) -> dict:
    """{value: results} for one path.

    A path through a many-to-many relation is counted on its link table alone, without reading
    the results' own table. Where each link gives one value (a trial links an agent once, so its
    agents' slugs do not repeat) and where a result has one value (its own column), plain COUNT is
    exact; COUNT(DISTINCT), which sorts what it counts, took ten to twenty times as long over
    100,000 trials, and is kept for values that can repeat (two agents of one class).
    """
    name, _, rest = path.partition(LOOKUP_SEP)
    field = queryset.model._meta.get_field(name)
    if field.many_to_many:
        links = field.remote_field.through._default_manager.all()
        if queryset.query.has_filters():
            links = links.filter(**{f"{field.m2m_field_name()}__in": queryset.values("pk")})
        value = LOOKUP_SEP.join(filter(None, (field.m2m_reverse_field_name(), rest)))
        one_value_per_link = not rest or (
            LOOKUP_SEP not in rest and field.related_model._meta.get_field(rest).unique
        )
        queryset, path = links, value
        # COUNT(pk) when it can: the link's id is in the index of its foreign key, its other
        # column is not.
        count = Count("pk") if one_value_per_link else Count(field.m2m_field_name(), distinct=True)
    else:
        count = Count("pk", distinct=lookup_spawns_duplicates(queryset.model._meta, path))
    rows = queryset.values(path).annotate(count=count).order_by()
    return {row[path]: row["count"] for row in rows if row[path] is not None}
