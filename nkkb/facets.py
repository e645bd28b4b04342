"""Facet counts: for each option of a filter, how many results it would leave.

As on ClinicalTrials.gov, an option's count applies every other active filter, so options of one
filter can be combined (they are OR-ed) while the other filters narrow the counts. A filter whose
options are AND-ed (listed in the FilterSet's `conjoined_facets`) counts within its own selection.
"""

import hashlib

import django_filters
from django.contrib.admin.utils import lookup_spawns_duplicates
from django.core.cache import caches
from django.db import connections
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
    filter with several paths (a trial's targets come through agents and NK products) counts a
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


def facet_count(
    filterset_class, name: str, filters: dict[str, list[str]], *, version: str | None = None
):
    """{option value: count} of facet `name` among the results that `filters` leave, kept in
    the facets cache for the data version (`version`, when the caller has read it already)."""
    version = version or data_version()[0]
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
    """{value: results} in one grouped query.

    A path through a many-to-many relation is read from its link table alone, without the
    results' own table. Where each row gives a result one value (a trial links an agent once,
    so its agents' slugs do not repeat; a trial has one phase) plain COUNT is exact;
    COUNT(DISTINCT), which sorts what it counts, took ten to twenty times as long over 100,000
    trials, and is kept for values that can repeat (two agents of one class) and for values
    reached by several paths (a target through agents and through products), whose rows are
    pooled first so that a result counts once per value.
    """
    if queryset.query.is_empty():  # an invalid filter leaves nothing to count
        return {}
    if len(paths) == 1:
        rows, value, result, one_value_per_row = _rows(queryset, paths[0])
        count = Count("pk") if one_value_per_row else Count(result, distinct=True)
        grouped = rows.values(value).annotate(count=count).order_by()
        return {row[value]: row["count"] for row in grouped if row[value] is not None}
    pairs = []
    for path in paths:
        rows, value, result, _ = _rows(queryset, path)
        pairs.append(
            rows.filter(**{f"{value}__isnull": False})
            .order_by()
            .values(facet_value=F(value), facet_result=F(result))
        )
    sql, params = pairs[0].union(*pairs[1:], all=True).query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        # Django groups no union, so the pooled rows are grouped in SQL of our own.
        cursor.execute(
            f"SELECT facet_value, COUNT(DISTINCT facet_result) FROM ({sql}) AS pairs "
            "GROUP BY facet_value",
            params,
        )
        return dict(cursor.fetchall())


def _rows(queryset, path: str):
    """(rows, the lookup of their value, the lookup of their result, whether a result has one
    value per row): `queryset`'s link table for a path through a many-to-many relation, else
    the results themselves."""
    name, _, rest = path.partition(LOOKUP_SEP)
    field = queryset.model._meta.get_field(name)
    if not field.many_to_many:
        return queryset, path, "pk", not lookup_spawns_duplicates(queryset.model._meta, path)
    links = field.remote_field.through._default_manager.all()
    if queryset.query.has_filters():
        links = links.filter(**{f"{field.m2m_field_name()}__in": queryset.values("pk")})
    value = LOOKUP_SEP.join(filter(None, (field.m2m_reverse_field_name(), rest)))
    one_value_per_link = not rest or (
        LOOKUP_SEP not in rest and field.related_model._meta.get_field(rest).unique
    )
    return links, value, field.m2m_field_name(), one_value_per_link
