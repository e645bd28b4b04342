"""Facet counts: for each option of a filter, how many results it would leave.

As on ClinicalTrials.gov, an option's count applies every other active filter, so options of one
filter can be combined (they are OR-ed) while the other filters narrow the counts. A filter whose
options are AND-ed (listed in the FilterSet's `conjoined_facets`) counts within its own selection.

Counting reads no rows of the selection: each process keeps, per data version, the ids of the
results that have each option (compressed bitmaps, built on the first count after a write), and
an option's count is the size of its ids' intersection with the selection's: much faster than
grouping the selection's link rows in SQL (BENCHMARKS.md, "Facet counts").
"""

import hashlib
import threading
from array import array
from dataclasses import dataclass

import django_filters
from django.core.cache import caches
from django.db.models import F, Model, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import QueryDict
from django.utils.http import urlencode
from pyroaring import BitMap64

from .caching import data_version
from .links import filtered_list_url

# Counts per data version: many requests share the filters a facet's counts depend on (other
# pages, orderings, page sizes, options of the same facet), and each counting reads the ids of
# the selection.
FACET_CACHE = "facets"


def facet_counts(filterset) -> dict[str, dict[str, int]]:
    """{filter name: {option value: count}} for every filter named in `filterset.facet_paths`.

    `facet_paths` maps a filter name to the lookups that give a result's values for it; a
    filter with several paths (a trial's targets come through agents and NK products) counts a
    result once per value whichever path it came by. Where a value is derived rather than
    stored, a function giving (facet_value, facet_result) row querysets replaces the lookups.
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
    the facets that share their filters from one selection."""
    version, _ = data_version()
    keys = [_cache_key(filterset_class, name, filters, version) for name, filters in requests]
    found = caches[FACET_CACHE].get_many(keys)
    missing: dict[str, dict[str, tuple[str, dict]]] = {}
    for key, (name, filters) in zip(keys, requests, strict=True):
        if key not in found:
            missing.setdefault(_query_string(filters), {})[key] = (name, filters)
    for group in missing.values():
        filters = next(iter(group.values()))[1]
        selection = _selection(filterset_class, filters)
        counts = {
            key: _count(facet_index(filterset_class, name, version), selection)
            for key, (name, _) in group.items()
        }
        caches[FACET_CACHE].set_many(counts)
        found.update(counts)
    return [found[key] for key in keys]


def _query_string(filters: dict[str, list[str]]) -> str:
    return urlencode(sorted((key, sorted(values)) for key, values in filters.items()), doseq=True)


def _cache_key(filterset_class, name: str, filters: dict[str, list[str]], version: str) -> str:
    digest = hashlib.sha256(_query_string(filters).encode()).hexdigest()
    return ":".join((filterset_class.__qualname__, name, version, digest))


def _selection(filterset_class, filters: dict[str, list[str]]) -> BitMap64 | None:
    """The ids of the results that `filters` leave (None for every result); none where a
    filter is invalid."""
    data = QueryDict(mutable=True)
    for parameter, values in filters.items():
        data.setlist(parameter, values)
    filterset = filterset_class(data, queryset=filterset_class._meta.model.objects.all())
    if not filterset.is_valid():
        return BitMap64()
    results = filterset.qs.order_by()
    if results.query.is_empty():
        return BitMap64()
    return BitMap64(results.values_list("pk", flat=True)) if results.query.has_filters() else None


def _count(options: dict[str, BitMap64], selection: BitMap64 | None) -> dict[str, int]:
    counts = {
        value: len(ids) if selection is None else ids.intersection_cardinality(selection)
        for value, ids in options.items()
    }
    return {value: count for value, count in counts.items() if count}


# {(FilterSet class, facet): (data version, {option value: ids})}: the latest version only.
_indexes: dict[tuple[type, str], tuple[str, dict[str, BitMap64]]] = {}
_indexing = threading.Lock()


def facet_index(filterset_class, name: str, version: str) -> dict[str, BitMap64]:
    """{option value: ids of the results with it} of facet `name` at data `version`, read once
    per process and version."""
    with _indexing:
        built = _indexes.get((filterset_class, name))
        if built is None or built[0] != version:
            built = (version, _read_index(filterset_class, name))
            _indexes[(filterset_class, name)] = built
    return built[1]


def clear_facet_indexes() -> None:
    """Forget every index (tests, whose rolled-back data may come back under an old version)."""
    with _indexing:
        _indexes.clear()


def _read_index(filterset_class, name: str) -> dict[str, BitMap64]:
    paths = filterset_class.facet_paths[name]
    all_results = filterset_class._meta.model._default_manager.order_by()
    ids: dict[str, array] = {}
    for rows in paths() if callable(paths) else facet_rows(all_results, paths):
        for value, result in rows.values_list("facet_value", "facet_result").iterator():
            ids.setdefault(value, array("Q")).append(result)
    return {value: BitMap64(values) for value, values in ids.items()}


def facet_rows(all_results: QuerySet, paths: tuple[str, ...]) -> list[QuerySet]:
    """Querysets of (facet_value, facet_result) rows of every result, one per path, for the
    index; a result counts once per value whichever path, and whichever of its rows, gives it.

    A path through a many-to-many relation is read from its link table alone, without the
    results' own table (so `all_results` must be unfiltered).
    """
    rows = []
    for path in paths:
        name, _, rest = path.partition(LOOKUP_SEP)
        field = all_results.model._meta.get_field(name)
        if field.many_to_many:
            links = field.remote_field.through._default_manager.order_by()
            value = LOOKUP_SEP.join(filter(None, (field.m2m_reverse_field_name(), rest)))
            result = field.m2m_field_name()
        else:
            links, value, result = all_results, path, "pk"
        rows.append(
            links.filter(**{f"{value}__isnull": False}).values(
                facet_value=F(value), facet_result=F(result)
            )
        )
    return rows


@dataclass(frozen=True)
class RecordFacet:
    """A list's facet whose options are the records of a lower app's model: the trial list's
    `agent` facet counts each agent's trials. The list's app registers it when Django starts
    (AppConfig.ready), so the records' own pages and API show their counts and link to the list
    without importing the app above them."""

    filterset_class: type
    name: str
    # The list page's view name, and the records' reverse relation to the listed model.
    list_view_name: str
    related_name: str | None = None


_record_facets: dict[type[Model], RecordFacet] = {}


def register_record_facet(model: type[Model], facet: RecordFacet) -> None:
    _record_facets[model] = facet


def record_facet(model: type[Model]) -> RecordFacet:
    return _record_facets[model]


def record_counts(model: type[Model]) -> dict[str, int]:
    """{slug: how many results the list finds for it} of every record of `model`."""
    facet = record_facet(model)
    return facet_count(facet.filterset_class, facet.name, {})


def annotate_record_counts(records) -> None:
    """Give each record (all of one model) its list's count (`list_count`) and link (`list_url`)."""
    records = list(records)
    if not records:
        return
    facet = record_facet(type(records[0]))
    counts = record_counts(type(records[0]))
    for record in records:
        record.list_count = counts.get(record.slug, 0)
        record.list_url = filtered_list_url(facet.list_view_name, **{facet.name: record.slug})
