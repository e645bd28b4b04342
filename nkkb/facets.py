"""Facet counts: for each option of a filter, how many results it would leave.

As on ClinicalTrials.gov, an option's count applies every other active filter, so options of one
filter can be combined (they are OR-ed) while the other filters narrow the counts. A filter whose
options are AND-ed (listed in the FilterSet's `conjoined_facets`) counts within its own selection.
"""

import hashlib
from dataclasses import dataclass

import django_filters
from django.contrib.admin.utils import lookup_spawns_duplicates
from django.core.cache import caches
from django.db import connections
from django.db.models import F, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.db.models.expressions import RawSQL
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
    result once per value whichever path it came by. A FilterSet method `facet_rows_<name>`
    replaces the paths where a value is derived rather than stored.
    """
    active = {
        name: filterset.data.getlist(name)
        for name, definition in filterset.filters.items()
        if name in filterset.data and not isinstance(definition, django_filters.OrderingFilter)
    }
    names = list(filterset.facet_paths)
    requests = [
        (
            name,
            {
                key: values
                for key, values in active.items()
                if key != name or name in filterset.conjoined_facets
            },
        )
        for name in names
    ]
    return dict(zip(names, count_facets(type(filterset), requests), strict=True))


def facet_count(filterset_class, name: str, filters: dict[str, list[str]]) -> dict[str, int]:
    """{option value: count} of facet `name` among the results that `filters` leave."""
    return count_facets(filterset_class, [(name, filters)])[0]


def count_facets(filterset_class, requests: list[tuple[str, dict[str, list[str]]]]):
    """[{option value: count}] of each (facet name, filters) requested, among the results its
    filters leave: from the facets cache for the data version where they are, else counted,
    the facets that share their filters together."""
    version, _ = data_version()
    keys = [_cache_key(filterset_class, name, filters, version) for name, filters in requests]
    found = caches[FACET_CACHE].get_many(keys)
    missing: dict[str, dict[str, tuple[str, dict]]] = {}
    for key, (name, filters) in zip(keys, requests, strict=True):
        if key not in found:
            missing.setdefault(_query_string(filters), {})[key] = (name, filters)
    for group in missing.values():
        filters = next(iter(group.values()))[1]
        counted = _count_together(filterset_class, [name for name, _ in group.values()], filters)
        counts = dict(zip(group, counted, strict=True))
        caches[FACET_CACHE].set_many(counts)
        found.update(counts)
    return [found[key] for key in keys]


def _query_string(filters: dict[str, list[str]]) -> str:
    return urlencode(sorted((key, sorted(values)) for key, values in filters.items()), doseq=True)


def _cache_key(filterset_class, name: str, filters: dict[str, list[str]], version: str) -> str:
    digest = hashlib.sha256(_query_string(filters).encode()).hexdigest()
    return ":".join((filterset_class.__qualname__, name, version, digest))


# The results a facet counts among, named in the one statement that counts several facets.
SELECTION = "facet_selection"


def _count_together(filterset_class, names: list[str], filters: dict[str, list[str]]):
    """[{value: count}] of the facets `names`, which share `filters`, in one statement.

    Where the filters select some results, the statement finds them once (a common table
    expression) and every facet counts among them: at 100,000 trials, each facet finding the
    17,310 engager trials again took 40 % longer (BENCHMARKS.md).
    """
    data = QueryDict(mutable=True)
    for parameter, values in filters.items():
        data.setlist(parameter, values)
    filterset = filterset_class(data, queryset=filterset_class._meta.model.objects.all())
    if not filterset.is_valid():  # an invalid filter leaves nothing to count
        return [{} for _ in names]
    results = filterset.qs.order_by()
    if results.query.is_empty():
        return [{} for _ in names]
    selection = Selection(results, results.values("pk") if results.query.has_filters() else None)
    prefix, params = "", []
    if selection.ids is not None and len(names) > 1:
        selection_sql, selection_params = selection.ids.query.sql_with_params()
        params = list(selection_params)
        prefix = f"WITH {SELECTION} (result_id) AS ({selection_sql}) "
        ids = RawSQL(f"SELECT result_id FROM {SELECTION}", ())
        selection = Selection(results.model.objects.filter(pk__in=ids).order_by(), ids)
    statements = []
    for number, name in enumerate(names):
        rows_of = getattr(filterset, f"facet_rows_{name}", None)
        if rows_of:
            rows, distinct = rows_of(selection)
        else:
            rows, distinct = facet_rows(selection, filterset.facet_paths[name])
        combined = rows[0].union(*rows[1:], all=True) if len(rows) > 1 else rows[0]
        sql, rows_params = combined.query.sql_with_params()
        count = "COUNT(DISTINCT facet_result)" if distinct else "COUNT(facet_result)"
        # Django groups no union, and counts no union of facets, so the rows are grouped in
        # SQL of our own.
        statements.append(
            f"SELECT {number}, facet_value, {count} FROM ({sql}) AS facet_rows_{number} "
            "GROUP BY facet_value"
        )
        params.extend(rows_params)
    counts = [{} for _ in names]
    with connections[results.db].cursor() as cursor:
        cursor.execute(prefix + " UNION ALL ".join(statements), params)
        for number, value, count in cursor.fetchall():
            counts[number][value] = count
    return counts


@dataclass(frozen=True)
class Selection:
    """The results a facet counts among: a queryset (unordered), and their ids as the right
    side of `__in` (None where the selection is every result)."""

    results: QuerySet
    ids: QuerySet | RawSQL | None


def facet_rows(selection: Selection, paths: tuple[str, ...]) -> tuple[list[QuerySet], bool]:
    """Querysets of (facet_value, facet_result) rows, one per path, and whether a result can
    appear more than once for a value, so that it must be counted distinct.

    A path through a many-to-many relation is read from its link table alone, without the
    results' own table. Where each row gives a result one value (a trial links an agent once,
    so its agents' slugs do not repeat; a trial has one phase) plain COUNT is exact;
    COUNT(DISTINCT), which sorts what it counts, took ten to twenty times as long over 100,000
    trials, and is kept for values that can repeat (two agents of one class) and for values
    reached by several paths (a target through agents and through products).
    """
    rows = []
    distinct = len(paths) > 1
    for path in paths:
        links, value, result, one_value_per_row = _rows(selection, path)
        distinct = distinct or not one_value_per_row
        rows.append(
            links.filter(**{f"{value}__isnull": False})
            .order_by()
            .values(facet_value=F(value), facet_result=F(result))
        )
    return rows, distinct


def _rows(selection: Selection, path: str):
    """(rows, the lookup of their value, the lookup of their result, whether a result has one
    value per row): the selection's link table for a path through a many-to-many relation,
    else the selected results themselves."""
    results = selection.results
    name, _, rest = path.partition(LOOKUP_SEP)
    field = results.model._meta.get_field(name)
    if not field.many_to_many:
        return results, path, "pk", not lookup_spawns_duplicates(results.model._meta, path)
    links = field.remote_field.through._default_manager.all()
    if selection.ids is not None:
        links = links.filter(**{f"{field.m2m_field_name()}__in": selection.ids})
    value = LOOKUP_SEP.join(filter(None, (field.m2m_reverse_field_name(), rest)))
    one_value_per_link = not rest or (
        LOOKUP_SEP not in rest and field.related_model._meta.get_field(rest).unique
    )
    return links, value, field.m2m_field_name(), one_value_per_link
