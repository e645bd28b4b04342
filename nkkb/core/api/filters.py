"""Filter backends of every API list: `search` as the pages search, and `fields`/`omit`."""

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, filters

from ..filtersets import filter_parameters


class FilterSetBackend(DjangoFilterBackend):
    """django-filter's backend, which builds the view's FilterSet only for a request that sends
    one of its parameters: without any, the FilterSet would leave the records as they are, and
    building its form was much of the time of a trial's record (BENCHMARKS.md, issue 17)."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and not any(
            parameter in request.query_params for parameter in filter_parameters(filterset_class)
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)


class SearchFilter(filters.SearchFilter):
    """DRF's `search`: its words, searched as the FilterSet's `search_words` searches them."""

    search_description = (
        "Words, each of which must appear (case-insensitive) where `q` searches. Where `q` "
        "matches its text as one phrase, the words of `search` may be apart."
    )

    def get_search_terms(self, request):
        try:
            return super().get_search_terms(request)
        except exceptions.ValidationError as error:
            # DRF's message names no parameter; every other 400 of the API does.
            raise exceptions.ValidationError({self.search_param: error.detail}) from None

    def filter_queryset(self, request, queryset, view):
        # Not DRF's own search: it nests the whole filtered queryset, every other filter
        # included, in a subquery correlated with each row (minutes on PostgreSQL with a few
        # filters), and it would miss the trials' full-text index.
        terms = self.get_search_terms(request)
        if not terms:
            return queryset
        filterset_class = getattr(view, "filterset_class", None)
        if filterset_class is None:
            raise exceptions.ValidationError({self.search_param: ["This list cannot be searched."]})
        return filterset_class.search_words(queryset, terms)

    def get_schema_operation_parameters(self, view):
        if getattr(view, "filterset_class", None) is None:
            return []
        return super().get_schema_operation_parameters(view)


SPARSE_FIELDS = {
    "fields": "Return only these fields of each record, e.g. `nct_id,title,phase`.",
    "omit": "Leave these fields out of each record, e.g. `results,provenance`.",
}


def selected_fields(request, serializer_class) -> list[str] | None:
    """The fields `fields` and `omit` leave, in the representation's order (None when neither
    is given); a name the representation does not have, or no field left, is a 400."""
    names = serializer_class.Meta.fields
    kept = set(names)
    for parameter in SPARSE_FIELDS:
        values = request.query_params.getlist(parameter)
        asked = {name for value in values for name in value.split(",") if name}
        if values and not asked:
            raise exceptions.ValidationError(
                {parameter: [f"Name at least one field. Fields: {', '.join(names)}."]}
            )
        unknown = sorted(asked - set(names))
        if unknown:
            raise exceptions.ValidationError(
                {parameter: [f"Unknown field: {', '.join(unknown)}. Fields: {', '.join(names)}."]}
            )
        if asked:
            kept = kept & asked if parameter == "fields" else kept - asked
    if kept == set(names):
        return None
    if not kept:
        raise exceptions.ValidationError({"fields": ["Name at least one field to return."]})
    return [name for name in names if name in kept]


class SparseFieldsFilter(filters.BaseFilterBackend):
    """Reads only the relations that the fields `fields` and `omit` leave need (the
    serializer's `Meta.field_relations`, the queryset's `with_related`)."""

    def filter_queryset(self, request, queryset, view):
        serializer_class = view.get_serializer_class()
        selected = selected_fields(request, serializer_class)
        if selected is None:
            return queryset
        relations = serializer_class.Meta.field_relations
        return queryset.prefetch_related(None).with_related(
            {relation for name in selected for relation in relations.get(name, ())}
        )

    def get_schema_operation_parameters(self, view):
        names = ", ".join(view.get_serializer_class().Meta.fields)
        return [
            {
                "name": parameter,
                "required": False,
                "in": "query",
                "description": f"{description} Fields: {names}.",
                "schema": {"type": "string"},
            }
            for parameter, description in SPARSE_FIELDS.items()
        ]
