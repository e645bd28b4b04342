"""Facet counts: for each option of a filter, how many results it would leave.

As on ClinicalTrials.gov, an option's count applies every other active filter, so options of one
filter can be combined (they are OR-ed) while the other filters narrow the counts. A filter whose
options are AND-ed (listed in the FilterSet's `conjoined_facets`) counts within its own selection.
"""

from collections import defaultdict

from django.db.models import Count


def facet_counts(filterset) -> dict[str, dict[str, int]]:
    """{filter name: {option value: count}} for every filter named in `filterset.facet_paths`.

    `facet_paths` maps a filter name to the lookups that give a result's values for it; a
    filter with several paths (a trial's targets come through agents and NK products) counts a
    result once per value whichever path it came by. A FilterSet method `count_<name>` replaces
    the paths where a value is derived rather than stored.
    """
    counts = {}
    for name, paths in filterset.facet_paths.items():
        data = filterset.data.copy()
        if name not in filterset.conjoined_facets:
            data.pop(name, None)
        others = type(filterset)(data, queryset=filterset.queryset, request=filterset.request)
        queryset = others.qs.order_by() if others.is_valid() else filterset.queryset.none()
        count = getattr(filterset, f"count_{name}", None)
        counts[name] = count(queryset) if count else facet_values(queryset, paths)
    return counts


def facet_values(queryset, paths: tuple[str, ...]) -> dict[str, int]:
    if len(paths) == 1:
        rows = queryset.values(paths[0]).annotate(count=Count("pk", distinct=True))
        return {row[paths[0]]: row["count"] for row in rows if row[paths[0]] is not None}
    results_by_value = defaultdict(set)
    for path in paths:
        for value, pk in queryset.values_list(path, "pk").distinct():
            if value is not None:
                results_by_value[value].add(pk)
    return {value: len(pks) for value, pks in results_by_value.items()}
