"""Facet counts: for each option of a filter, how many results it would leave.

As on ClinicalTrials.gov, an option's count applies every other active filter, so options of one
filter can be combined (they are OR-ed) while the other filters narrow the counts. A filter whose
options are AND-ed (listed in the FilterSet's `conjoined_facets`) counts within its own selection.

Counting reads no rows of the selection: each process keeps, per data version, the ids of the
results that have each option (compressed bitmaps, built on the first count after a write), and
an option's count is the size of its ids' intersection with the selection's: much faster than
grouping the selection's link rows in SQL (BENCHMARKS.md, "Facet counts").
"""

import functools
import hashlib
import itertools
import threading
from array import array
from dataclasses import dataclass
from functools import reduce
from operator import and_, or_

import django_filters
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS
from django.db.models import CharField, F, Model, QuerySet, Value
from django.db.models.constants import LOOKUP_SEP
from django.db.models.query import FlatValuesListIterable, ValuesIterable
from django.http import QueryDict
from django.urls import get_resolver
from django.utils.http import urlencode
from pyroaring import BitMap64

from .caching import data_position, data_version
from .changes import Position, results_to_mend, touched_between
from .filtersets import filter_parameters
from .links import filtered_list_url
from .queries import IdsQuery
from .record_order import ordered_ids
from .stored_facets import prepare_mends

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
    requests = _facet_requests(filterset)
    # Each request's filters are some of the FilterSet's: valid where all of them are.
    counts = count_facets(type(filterset), requests, valid=filterset.is_valid())
    return dict(zip(filterset.facet_paths, counts, strict=True))


def _facet_requests(filterset) -> list[tuple[str, dict[str, list[str]]]]:
    """(facet name, the filters its counts apply) of each facet of `filterset`."""
    active = active_filters(filterset)
    return [
        (
            name,
            {
                key: values
                for key, values in active.items()
                if key != name or name in filterset.conjoined_facets
            },
        )
        for name in filterset.facet_paths
    ]


def active_filters(filterset) -> dict[str, list[str]]:
    """{query parameter: values} of the filters `filterset` applies (its ordering aside), by
    parameter: a range filter reads two (`enrollment_min`, `enrollment_max`)."""
    orderings = {
        name
        for name, definition in filterset.filters.items()
        if isinstance(definition, django_filters.OrderingFilter)
    }
    return {
        parameter: _values(filterset.data, parameter)
        for parameter in filter_parameters(type(filterset))
        if parameter in filterset.data and parameter not in orderings
    }


def _values(data, parameter: str) -> list[str]:
    """A parameter's values from a request's QueryDict, or a plain dict a script passed."""
    if hasattr(data, "getlist"):
        return data.getlist(parameter)
    value = data[parameter]
    return list(value) if isinstance(value, list | tuple) else [value]


def facet_count(filterset_class, name: str, filters: dict[str, list[str]]) -> dict[str, int]:
    """{option value: count} of facet `name` among the results that `filters` leave."""
    return count_facets(filterset_class, [(name, filters)])[0]


def count_facets(
    filterset_class, requests: list[tuple[str, dict[str, list[str]]]], *, valid: bool = False
):
    """[{option value: count}] of each (facet name, filters) requested, among the results its
    filters leave: from the facets cache for the data version where they are, else counted,
    the facets that share their filters from one selection. `valid`: every request's filters
    are known to be valid, so none needs a FilterSet to tell."""
    version, _ = data_version()
    keys = [_cache_key(filterset_class, name, filters, version) for name, filters in requests]
    found = caches[FACET_CACHE].get_many(keys)
    missing: dict[str, dict[str, tuple[str, dict]]] = {}
    for key, (name, filters) in zip(keys, requests, strict=True):
        if key not in found:
            missing.setdefault(_query_string(filters), {})[key] = (name, filters)
    for group in missing.values():
        filters = next(iter(group.values()))[1]
        selection = _selection(filterset_class, filters, version, valid=valid)
        counts = {
            key: _counted(filterset_class, name, filters, selection, version)
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


def _selection(
    filterset_class, filters: dict[str, list[str]], version: str, *, valid: bool
) -> BitMap64 | None:
    """The ids of the results that `filters` leave (None for every result); none where a
    filter is invalid. Filters known to be `valid` and read from the facet indexes alone need
    no FilterSet: building one copies every filter and form field again (BENCHMARKS.md, "Issue
    17, ninth round")."""
    indexed = indexed_selection(filterset_class, filters, version)
    if valid and indexed is not NOT_INDEXED:
        return indexed
    data = QueryDict(mutable=True)
    for parameter, values in filters.items():
        data.setlist(parameter, values)
    filterset = filterset_class(data, queryset=filterset_class._meta.model.objects.all())
    if not filterset.is_valid():
        return BitMap64()
    if indexed is not NOT_INDEXED:
        return indexed
    results = filterset.qs.order_by()
    if results.query.is_empty():
        return BitMap64()
    return BitMap64(results.values_list("pk", flat=True)) if results.query.has_filters() else None


# A selection with a filter that is not a facet: only SQL can find it.
NOT_INDEXED = object()


def indexed_selection(filterset_class, filters: dict[str, list[str]], version: str):
    """The ids of the results that valid `filters` leave, read from the facet indexes alone
    (None for every result), or NOT_INDEXED where a filter is not a facet.

    A facet's option holds exactly the results its filter finds for that value (the facet
    tests hold them equal), so a filter's ids are the union of its options' (the intersection
    for a conjoined facet), and a selection's the intersection of its filters'.
    """
    if not all(parameter in filterset_class.facet_paths for parameter in filters):
        return NOT_INDEXED
    selection = None
    for name, values in filters.items():
        # An empty value is no filter, as the FilterSet reads it.
        chosen = [value for value in dict.fromkeys(values) if value != ""]
        if not chosen:
            continue
        options = facet_index(filterset_class, name, version)
        combine = and_ if name in filterset_class.conjoined_facets else or_
        ids = reduce(combine, (options.get(value, BitMap64()) for value in chosen))
        selection = ids if selection is None else selection & ids
    return selection


def _count(options: dict[str, BitMap64], selection: BitMap64 | None) -> dict[str, int]:
    counts = {
        value: len(ids) if selection is None else ids.intersection_cardinality(selection)
        for value, ids in options.items()
    }
    return {value: count for value, count in counts.items() if count}


def _counted(filterset_class, name: str, filters: dict, selection, version: str) -> dict[str, int]:
    """{option value: count} of facet `name` among `selection`, the results `filters` leave.
    After a write, the first page counted every option of every facet again, most of them
    unchanged by a write that touched a trial or two (BENCHMARKS.md, "Issue 17, seventeenth
    round"): where the facets cache still holds the counts at the version the facet index was
    mended from, and the mend changed none of the options the selection is made of, only the
    options it changed are counted again."""
    options = facet_index(filterset_class, name, version)
    mend = _last_mend(filterset_class, version)
    if (
        mend is not None
        and name in mend.changed
        and not _selection_changed(filterset_class, filters, mend.changed)
    ):
        earlier = caches[FACET_CACHE].get(_cache_key(filterset_class, name, filters, mend.version))
        if earlier is not None:
            touched = mend.changed[name]
            counts = {value: count for value, count in earlier.items() if value not in touched}
            counts.update(_count({v: options[v] for v in touched if v in options}, selection))
            return counts
    return _count(options, selection)


def _selection_changed(filterset_class, filters: dict, changed: dict[str, frozenset]) -> bool:
    """Whether the results `filters` leave may differ after a mend that `changed` these options
    ({facet name: option values}): a filter that is not a facet is read by SQL, which any write
    may change."""
    for name, values in filters.items():
        if name not in filterset_class.facet_paths:
            return True
        if not changed.get(name, frozenset()).isdisjoint(values):
            return True
    return False


@dataclass(frozen=True)
class Mend:
    """What the last mend of a FilterSet's facet index brought it from, and what it changed."""

    # The data version and position the index was at before.
    version: str
    position: Position
    # The results the writes since touched.
    touched: frozenset[int]
    # {facet name: values of the options whose results the mend changed}, for each facet the
    # index held (a facet read later has no entry: what the writes changed in it is unknown).
    changed: dict[str, frozenset[str]]


@dataclass
class FilterSetIndex:
    """The facet indexes of one FilterSet in this process, all at one data version."""

    version: str
    position: Position
    # {facet name: {option value: ids of the results with it}}, each read on its first count.
    facets: dict[str, dict[str, BitMap64]]
    last_mend: Mend | None = None


_indexes: dict[type, FilterSetIndex] = {}
_indexing = threading.Lock()


def facet_index(filterset_class, name: str, version: str) -> dict[str, BitMap64]:
    """{option value: ids of the results with it} of facet `name` at data `version`.

    Read once per process; after a write, mended from the rows the writes since touched
    (nkkb.core.changes) rather than read again, so the first count after a write costs
    milliseconds at any size. Every process reads the same changes from the database.
    """
    with _indexing:
        index = _indexes.get(filterset_class)
        if index is not None and index.version != version and not _mend(filterset_class, index):
            index = None
        if index is None:
            index = FilterSetIndex(version, data_position(), {})
            _indexes[filterset_class] = index
        index.version = version
        if name not in index.facets:
            index.facets[name] = _read_index(filterset_class, name)
        return index.facets[name]


def _mend(filterset_class, index: FilterSetIndex) -> bool:
    """Bring `index` up to the request's data position; False where it must be read again."""
    position = data_position()
    touched_results = getattr(filterset_class, "touched_results", None)
    touched = results_to_mend(touched_results, index.position, position)
    if touched is None:
        return False
    changed = dict.fromkeys(index.facets, frozenset())
    if touched:
        ids = BitMap64(touched)
        rows = _touched_rows(filterset_class, list(index.facets), sorted(touched))
        mended = {name: _mended(options, ids, rows[name]) for name, options in index.facets.items()}
        for name, options in mended.items():
            earlier = index.facets[name]
            changed[name] = frozenset(
                value
                for value in options.keys() | earlier.keys()
                if options.get(value) is not earlier.get(value)
            )
        index.facets = mended
    index.last_mend = Mend(index.version, index.position, touched, changed)
    index.position = position
    return True


def _last_mend(filterset_class, version: str) -> Mend | None:
    """The last mend of the FilterSet's index where the index is at `version`; else None."""
    with _indexing:
        index = _indexes.get(filterset_class)
        return index.last_mend if index is not None and index.version == version else None


def unchanged_since(filterset, touched_shown) -> Mend | None:
    """The last mend of the FilterSet's facet index, where the writes it covers provably left
    what `filterset` finds and counts as it was: its filters are all facets, none of the
    options it selects changed, none of its results was touched (by what `touched_results`
    and `touched_shown` say the writes touched: what the index holds and what a page shows of
    them), and every facet's counts equal those the facets cache holds from before the
    writes. None where that cannot be shown."""
    filterset_class = type(filterset)
    filters = active_filters(filterset)
    if not filterset.is_valid() or not filters.keys() <= filterset_class.facet_paths.keys():
        return None
    version = data_version()[0]
    # Brings the index to this version, mending it from the one before.
    facet_index(filterset_class, next(iter(filterset_class.facet_paths)), version)
    mend = _last_mend(filterset_class, version)
    if (
        mend is None
        or not mend.changed.keys() >= filterset_class.facet_paths.keys()
        or _selection_changed(filterset_class, filters, mend.changed)
    ):
        return None
    shown = touched_between(touched_shown, mend.position, data_position())
    if shown is None:
        return None
    touched = mend.touched | shown
    if touched:
        selection = indexed_selection(filterset_class, filters, version)
        if selection is None or selection.intersect(BitMap64(touched)):
            return None
    # A facet none of whose options the writes changed counts as it did; the others count
    # again, as the page would.
    requests = [request for request in _facet_requests(filterset) if mend.changed[request[0]]]
    if requests:
        keys = [_cache_key(filterset_class, name, each, mend.version) for name, each in requests]
        earlier = caches[FACET_CACHE].get_many(keys)
        if len(earlier) != len(keys) or [earlier[key] for key in keys] != count_facets(
            filterset_class, requests, valid=True
        ):
            return None
    return mend


def _mended(options: dict[str, BitMap64], touched: BitMap64, rows) -> dict[str, BitMap64]:
    """A new copy of one facet's index (threads may be counting with the old one) with the
    touched results' options as `rows` (option value, result id) give them. An option whose
    touched results are those it had keeps its ids, shared with the old copy and never changed
    (its counts stand: _counted)."""
    now: dict[str, BitMap64] = {}
    for value, result in rows:
        now.setdefault(value, BitMap64()).add(result)
    mended = {}
    for value, ids in options.items():
        has = now.pop(value, BitMap64())
        if ids.intersect(touched):
            mended[value] = ids if ids & touched == has else (ids - touched) | has
        else:
            mended[value] = ids | has if has else ids
    mended.update(now)
    return {value: ids for value, ids in mended.items() if ids}


# {(FilterSet, the shapes of its row sources): the statement of _touched_rows}.
_touched_rows_queries: dict[tuple, IdsQuery] = {}


def _touched_rows(filterset_class, names: list[str], touched: list[int]):
    """{facet name: (option value, result id) rows of the results `touched`} of the facets
    `names`, read in one statement for every facet of the FilterSet (a statement each cost more
    in round trips and planning than in reading: BENCHMARKS.md, "Issue 17, seventh round"),
    compiled once per process: building and compiling its querysets cost more than running it
    ("ninth round"). A row source with `shape()` (what its querysets' SQL depends on in the
    data) gets a statement per shape; one with `refresh()` is brought up to date first."""
    sources = filterset_class.facet_paths
    for name in names:
        if hasattr(sources[name], "refresh"):
            sources[name].refresh()
    found = {name: [] for name in names}
    for name, value, result in _touched_rows_statement(filterset_class)(touched):
        if name in found:
            found[name].append((value, result))
    return found


def _touched_rows_statement(filterset_class) -> IdsQuery:
    """The statement of _touched_rows for the row sources' shapes now."""
    sources = filterset_class.facet_paths.values()
    shapes = tuple(source.shape() for source in sources if hasattr(source, "shape"))
    query = _touched_rows_queries.get((filterset_class, shapes))
    if query is None:
        query = IdsQuery(functools.partial(_touched_rows_query, filterset_class))
        _touched_rows_queries[(filterset_class, shapes)] = query
    return query


def _touched_rows_query(filterset_class, touched) -> QuerySet:
    """(facet name, option value, result id) rows of the results `touched` of every facet. A
    row source's `restricted(ids)` form, querysets of the rows of the results `ids` that cost
    less than its full form narrowed, gives its rows where it has one."""
    named_rows = []
    for name, paths in filterset_class.facet_paths.items():
        if hasattr(paths, "restricted"):
            querysets = paths.restricted(touched)
        else:
            querysets = [
                rows.filter(facet_result__in_ids=touched)
                for rows in _row_querysets(filterset_class, name)
            ]
        named_rows += [
            rows.order_by()
            .annotate(facet_name=Value(name, output_field=CharField()))
            .values_list("facet_name", "facet_value", "facet_result")
            for rows in querysets
        ]
    first, *others = named_rows
    return first.union(*others, all=True)


def faceted_list_pages() -> dict[type, str]:
    """{FilterSet: the path of its list page} of each list page whose facets the site counts,
    found through the URLconf."""
    found = {}

    def walk(patterns, prefix):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
                continue
            filterset_class = getattr(
                getattr(pattern.callback, "view_class", None), "filterset_class", None
            )
            if getattr(filterset_class, "facet_paths", None):
                found.setdefault(filterset_class, "/" + prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns, "")
    return found


def read_facet_indexes(after_each=lambda: None) -> None:
    """Read every facet index of the list pages at the current data version, and the order of
    their records that pages are walked in, and compile the statements that mend the indexes
    and the stored facets after a write, calling `after_each` after each: a worker does so
    before its first request (gunicorn.conf.py, which tells its master it is alive after each),
    so that no visitor waits for them."""
    version = data_version()[0]
    for filterset_class in faceted_list_pages():
        for name in filterset_class.facet_paths:
            facet_index(filterset_class, name, version)
            after_each()
        ordered_ids(filterset_class._meta.model)
        _touched_rows_statement(filterset_class).compiled()
        after_each()
    prepare_mends()
    after_each()


def clear_facet_indexes() -> None:
    """Forget every index (tests, whose rolled-back data may come back under an old version)."""
    with _indexing:
        _indexes.clear()


def _read_index(filterset_class, name: str) -> dict[str, BitMap64]:
    ids: dict[str, array] = {}
    for value, result in _rows(filterset_class, name):
        ids.setdefault(value, array("Q")).append(result)
    return {value: BitMap64(values) for value, values in ids.items()}


def _rows(filterset_class, name: str):
    """(option value, result id) of every result."""
    for rows in _row_querysets(filterset_class, name):
        yield from rows.values_list("facet_value", "facet_result").iterator()


def _row_querysets(filterset_class, name: str) -> list[QuerySet]:
    """Querysets of the (facet_value, facet_result) rows of every result, for facet `name`."""
    paths = filterset_class.facet_paths[name]
    if callable(paths):
        return paths()
    return facet_rows(filterset_class._meta.model._default_manager.order_by(), paths)


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


# A page of a selection is found among its ids in SQL where it has few (MIN_WALKED_IDS: under a
# millisecond), else by walking the default ordering (its ids, held in memory:
# nkkb.core.record_order) and probing each result against the selection where that reads few
# ids: fewer than WALKED_ROWS_PER_LISTED_ID per id of a selection small enough to be listed
# (MAX_LISTED_IDS; probing an id costs a fraction of finding a listed id's row and sorting it),
# fewer than MAX_WALKED_ROWS for a larger one; else among its ids, or (a deep page of a large,
# sparse selection) by the filters' SQL.
MIN_WALKED_IDS = 1_000
MAX_LISTED_IDS = 5_000
MAX_WALKED_ROWS = 20_000
WALKED_ROWS_PER_LISTED_ID = 4


class IndexedSelectionMixin:
    """For a FilterSet whose filters are all facets: the list's count is the size of its
    selection read from the facet indexes, and a page is found from the selection's ids rather
    than by counting and sorting the selection in SQL (BENCHMARKS.md, "Issue 17, second round")."""

    def filter_queryset(self, queryset):
        filtered = super().filter_queryset(queryset)
        filters = active_filters(self)
        if not filters:
            return filtered
        selection = indexed_selection(type(self), filters, data_version()[0])
        if selection is NOT_INDEXED or selection is None:
            return filtered
        return SelectedQuerySet.of(filtered, selection)


class SelectedQuerySet(QuerySet):
    """A filtered queryset that knows its results' ids (`selection`): counted from them, its
    pages found from them. A further filter forgets them (its queryset counts in SQL)."""

    selection: BitMap64

    @classmethod
    def of(cls, queryset: QuerySet, selection: BitMap64) -> QuerySet:
        """`queryset` knowing its selection; as it was where its filters joined a table (its
        pages then need those joins)."""
        if len(queryset.query.alias_map) > 1:
            return queryset
        selected = queryset._chain()
        selected.__class__ = _selected_class(type(queryset))
        selected.selection = selection
        return selected

    def _clone(self):
        clone = super()._clone()
        clone.selection = self.selection
        return clone

    def _filter_or_exclude(self, negate, args, kwargs):
        narrowed = super()._filter_or_exclude(negate, args, kwargs)
        narrowed.__class__ = self._unselected_class
        return narrowed

    def count(self):
        return len(self._result_cache if self._result_cache is not None else self.selection)

    def __getitem__(self, key):
        if (
            not isinstance(key, slice)
            or key.step is not None
            or key.stop is None
            or self._result_cache is not None
        ):
            return super().__getitem__(key)
        if not self.selection:
            return []
        start = key.start or 0
        size = len(self.selection)
        listable = size <= MAX_LISTED_IDS
        if size < MIN_WALKED_IDS:
            most = 0
        elif listable:
            most = min(MAX_WALKED_ROWS, WALKED_ROWS_PER_LISTED_ID * size)
        else:
            most = MAX_WALKED_ROWS
        ids = self._walk(start, key.stop, most)
        if ids is not None:
            # The walked ids come back in the default ordering, the walk's.
            return self._rows_among(ids)
        if listable:
            return list(self._among(list(self.selection))[start : key.stop])
        return super().__getitem__(key)

    def _among(self, ids: list[int]) -> QuerySet:
        """This queryset (its ordering, related reads and fields) over `ids` in place of its
        filters: the selection is their answer, and ids alone give the database an easy plan."""
        among = self._chain()
        among.__class__ = self._unselected_class
        among.query.where = type(among.query.where)()
        return among.filter(pk__in_ids=ids)

    def _rows_among(self, ids: list[int]) -> list:
        """What `_among(ids)` reads: for the ids alone (`values_list("pk", flat=True)`, the
        API's pages) `ids`, without a query; for rows of the model's own columns (`values()`),
        by a statement compiled once per set of columns: building the query through the ORM
        cost more than running it."""
        query = self.query
        pk_alone = ("pk",), (self.model._meta.pk.name,)
        if self._iterable_class is FlatValuesListIterable and query.values_select in pk_alone:
            return ids
        if (
            self._iterable_class is not ValuesIterable
            or self.db != DEFAULT_DB_ALIAS
            or query.annotation_select
            or query.extra_select
            or query.distinct
            or query.order_by
            or not query.default_ordering
        ):
            return list(self._among(ids))
        columns = tuple(query.values_select)
        rows_query = _rows_queries.get((self.model, columns))
        if rows_query is None:
            # Any queryset of these columns compiles to the same statement (`_among` replaces
            # its filters, and the ordering is the model's): the first one met builds it.
            rows_query = _rows_queries[self.model, columns] = IdsQuery(self._among)
        return rows_query.dicts(ids)

    def _walk(self, start: int, stop: int, most: int) -> list[int] | None:
        """The ids of results `start` to `stop` in the model's default ordering, from its ids
        in that order, keeping the selected; None where the ordering is another or the walk
        would read more than `most` ids (estimated from the selection's density)."""
        # A walk reads at least `stop` ids: the order is not read for one that cannot run.
        if self.query.order_by or not self.query.default_ordering or stop > most:
            return None
        ordered = ordered_ids(self.model)
        if ordered is None or stop * len(ordered) > most * len(self.selection):
            return None
        selection, found, position = self.selection, [], 0
        for pk in itertools.islice(ordered, most):
            if pk in selection:
                if position >= start:
                    found.append(pk)
                position += 1
                if position == stop:
                    return found
        return found if len(ordered) <= most else None


# {(model, columns): the rows of a set of ids} (SelectedQuerySet._rows_among).
_rows_queries: dict[tuple[type[Model], tuple[str, ...]], IdsQuery] = {}


@functools.cache
def _selected_class(queryset_class: type[QuerySet]) -> type[SelectedQuerySet]:
    return type(
        f"Selected{queryset_class.__name__}",
        (SelectedQuerySet, queryset_class),
        {"_unselected_class": queryset_class},
    )
