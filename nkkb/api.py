"""What every API endpoint shares: pagination, errors, CSV, validation as admin does it, links."""

import copy
import csv
import io
from decimal import Decimal

from concurrency.exceptions import RecordModifiedError
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import BigIntegerField, ProtectedError
from django.http import Http404
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.http import urlencode
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type, get_lib_doc_excludes
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import (
    exceptions,
    filters,
    pagination,
    permissions,
    renderers,
    serializers,
    status,
    views,
)
from rest_framework.settings import api_settings

from .facets import facet_count
from .models import CuratedModel, ReviewSection
from .record_urls import record_url
from .tables import DEFAULT_PAGE_SIZE, MAX_EXPORT_ROWS, MAX_PAGE_SIZE


class PageNumberPagination(pagination.PageNumberPagination):
    """`page` and `page_size`, capped like the list pages; a page past the end is a 404."""

    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    page_size_query_description = (
        f"Results per page: {DEFAULT_PAGE_SIZE} unless given, at most {MAX_PAGE_SIZE} "
        "(a larger value is lowered to it)."
    )
    max_page_size = MAX_PAGE_SIZE
    invalid_page_message = "Page {page_number} does not exist: {message}."

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=MAX_PAGE_SIZE)
        return parameters


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
        return view.filterset_class.search_words(queryset, terms) if terms else queryset


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
        asked = {
            name
            for value in request.query_params.getlist(parameter)
            for name in value.split(",")
            if name
        }
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


class SparseFieldsMixin:
    """A ViewSet whose reads return the fields that `fields` and `omit` select, JSON and CSV
    alike: its serializer (drf-flex-fields) is given them, so that drf-flex-fields reads no
    query parameter of its own, and its queryset reads only what they need."""

    filter_backends = [*api_settings.DEFAULT_FILTER_BACKENDS, SparseFieldsFilter]

    def get_serializer(self, *args, **kwargs):
        if self.request is not None and self.request.method in permissions.SAFE_METHODS:
            selected = selected_fields(self.request, self.get_serializer_class())
            if selected is not None:
                kwargs["fields"] = selected
        return super().get_serializer(*args, **kwargs)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Other records still refer to this one."
    default_code = "conflict"


def api_errors(error: DjangoValidationError, api_names: dict | None = None) -> dict:
    """Django's validation messages keyed as DRF keys them, under the API's field names.

    `api_names` maps a model field to its path in the API, e.g. `("provenance", "section")`.
    """
    if not hasattr(error, "error_dict"):
        return {api_settings.NON_FIELD_ERRORS_KEY: error.messages}
    paths = {NON_FIELD_ERRORS: (api_settings.NON_FIELD_ERRORS_KEY,), **(api_names or {})}
    errors = {}
    for model_field, messages in error.message_dict.items():
        path = paths.get(model_field, (model_field,))
        target = errors
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target.setdefault(path[-1], []).extend(messages)
    return errors


def exception_handler(exc, context):
    """DRF's handler, plus: Django's validation errors are a 400, protected deletes and edits
    of a version that is no longer current a 409."""
    if isinstance(exc, RecordModifiedError):
        exc = Conflict(
            "Someone changed this record after you read it: read it again, reapply your change "
            "and send the new `version`."
        )
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(api_errors(exc))
    elif isinstance(exc, ProtectedError):
        referrers = sorted(str(obj) for obj in exc.protected_objects)
        exc = Conflict(
            f"It cannot be deleted while these records refer to it: {'; '.join(referrers)}."
        )
    return views.exception_handler(exc, context)


class CSVRenderer(renderers.BaseRenderer):
    """One row per record, one column per field; nested fields get dotted column names.

    A list becomes one cell, its items separated by "; " (a list inside a list item by ", "),
    so that `agents.name` and `agents.role` line up item by item. The columns come from the
    view's serializer, so they are the same whatever the rows hold, even with no row at all.
    """

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"
    separators = ("; ", ", ")

    def render(self, data, accepted_media_type=None, renderer_context=None):
        columns = csv_columns(renderer_context["view"].get_serializer())
        rows = data if isinstance(data, list) else [data]
        output = io.StringIO()
        writer = csv.writer(output)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(
                self.cell(lookup(row, column.split(".")), depth=0) for column in columns
            )
        return output.getvalue().encode(self.charset)

    def cell(self, value, *, depth: int) -> str:
        if isinstance(value, list):
            separator = self.separators[min(depth, len(self.separators) - 1)]
            return separator.join(self.cell(item, depth=depth + 1) for item in value)
        if isinstance(value, Decimal):
            return f"{value.normalize():f}"
        return "" if value is None else str(value)


def csv_columns(serializer) -> list[str]:
    columns = []
    for name, field in serializer.fields.items():
        if field.write_only:
            continue
        nested = nested_serializer(field)
        columns += [f"{name}.{column}" for column in csv_columns(nested)] if nested else [name]
    return columns


def nested_serializer(field):
    if isinstance(field, serializers.ListSerializer):
        return field.child
    if isinstance(field, serializers.ManyRelatedField):
        field = field.child_relation
    if isinstance(field, BriefSlugRelatedField):
        return field.brief_serializer()
    if isinstance(field, serializers.BaseSerializer):
        return field
    return None


def lookup(data, keys: list[str]):
    if isinstance(data, list):
        return [lookup(item, keys) for item in data]
    if not keys or data is None:
        return data
    return lookup(data.get(keys[0]), keys[1:])


class CuratedViewSetMixin:
    """A model's API: its page's FilterSet, JSON or CSV, and 404s that say what was missing.

    CSV holds the whole filtered selection, as the pages' export does: `page` and `page_size`
    apply to JSON only. (A mixin, not a ViewSet: this module is named in the REST_FRAMEWORK
    setting, which DRF's generic views read as they are defined.)
    """

    lookup_field = "slug"
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]

    @property
    def search_fields(self):
        return self.filterset_class.search_fields

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            name = self.queryset.model._meta.verbose_name
            raise exceptions.NotFound(
                f"NKKB has no {name} {self.kwargs[self.lookup_field]!r}."
            ) from None

    def paginate_queryset(self, queryset):
        if isinstance(self.request.accepted_renderer, CSVRenderer):
            count = queryset.count()
            if count > MAX_EXPORT_ROWS:
                raise exceptions.ValidationError(
                    {
                        "format": [
                            f"CSV holds up to {MAX_EXPORT_ROWS} rows and this selection has "
                            f"{count}: narrow it with filters, or page through it as JSON."
                        ]
                    }
                )
            return None
        return super().paginate_queryset(queryset)

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(getattr(request, "accepted_renderer", None), CSVRenderer):
            if response.status_code >= 400:
                # An error is a message, not a table: it goes out as JSON whatever was asked.
                request.accepted_renderer = renderers.JSONRenderer()
                request.accepted_media_type = request.accepted_renderer.media_type
            else:
                filename = f"nkkb-{self.basename}s.csv"
                response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return super().finalize_response(request, response, *args, **kwargs)


class RecordURLField(serializers.HyperlinkedIdentityField):
    """The record's API URL, its view's pattern reversed once (see nkkb.record_urls)."""

    def get_url(self, obj, view_name, request, format):
        if format or obj.pk is None:
            return super().get_url(obj, view_name, request, format)
        url = record_url(view_name, str(getattr(obj, self.lookup_field)))
        return request.build_absolute_uri(url) if request else url


@extend_schema_field(OpenApiTypes.URI)
class HTMLURLField(serializers.ReadOnlyField):
    """The record's page on the site (its `get_absolute_url`), as an absolute URL."""

    def __init__(self, **kwargs):
        super().__init__(source="get_absolute_url", **kwargs)

    def to_representation(self, value):
        return self.context["request"].build_absolute_uri(value)


@extend_schema_field(OpenApiTypes.INT)
class FacetCountField(serializers.ReadOnlyField):
    """How many records a list finds for this one (`?<facet>=<slug>`): the list's facet count,
    kept per data version (nkkb.facets), so a list of records runs no query per record."""

    def __init__(self, filterset_class, facet: str, **kwargs):
        self.filterset_class, self.facet = filterset_class, facet
        super().__init__(source="slug", **kwargs)

    @cached_property
    def counts(self) -> dict[str, int]:
        return facet_count(self.filterset_class, self.facet, {})

    def to_representation(self, slug):
        return self.counts.get(slug, 0)


@extend_schema_field(OpenApiTypes.URI)
class FilteredListURLField(serializers.ReadOnlyField):
    """A list of the API filtered to this record (`<list>?<parameter>=<slug>`)."""

    def __init__(self, view_name: str, parameter: str, **kwargs):
        self.view_name, self.parameter = view_name, parameter
        super().__init__(source="slug", **kwargs)

    @cached_property
    def list_url(self) -> str:
        return self.context["request"].build_absolute_uri(reverse(self.view_name))

    def to_representation(self, slug):
        return f"{self.list_url}?{urlencode({self.parameter: slug})}"


class ComputedListSerializer(serializers.ListSerializer):
    """A read-only list of `child` that `compute(record)` derives from the record."""

    def __init__(self, *args, compute, **kwargs):
        self.compute = compute
        super().__init__(*args, source="*", read_only=True, **kwargs)

    def to_representation(self, instance):
        return super().to_representation(self.compute(instance))


class BriefSlugRelatedField(serializers.SlugRelatedField):
    """A relation written as the related records' slugs and read as their brief serializer."""

    def __init__(self, brief_serializer, **kwargs):
        self.brief_serializer = brief_serializer
        super().__init__(slug_field="slug", **kwargs)

    @cached_property
    def _brief(self):
        # One serializer for every related record: building one per record (its fields
        # introspected from the model each time) was a third of a trial list's serialization.
        return self.brief_serializer(context=self.context)

    def to_representation(self, obj):
        return self._brief.to_representation(obj)


class SlugRelatedFieldSchema(OpenApiSerializerFieldExtension):
    """A relation written as a slug takes the current records' slugs, listed as the filters list
    theirs (see FilterSetParameters); read back, a brief relation is its brief serializer."""

    target_class = serializers.SlugRelatedField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        if direction == "request" and field.queryset is not None:
            slugs = field.get_queryset().values_list(field.slug_field, flat=True)
            return {**build_basic_type(OpenApiTypes.STR), "enum": list(slugs)}
        if isinstance(field, BriefSlugRelatedField):
            return auto_schema.resolve_serializer(field.brief_serializer, direction).ref
        return auto_schema._map_serializer_field(field, direction, bypass_extensions=True)


class ProvenanceSerializer(serializers.Serializer):
    """Where in the review a record's facts come from (the model's `source_*` fields)."""

    section = serializers.ChoiceField(choices=ReviewSection.choices, source="source_section")
    references = serializers.ListField(
        child=serializers.IntegerField(min_value=1), source="source_references", required=False
    )
    quote = serializers.CharField(
        source="source_quote", max_length=CuratedModel._meta.get_field("source_quote").max_length
    )
    summary = serializers.CharField(source="source_summary")


class VersionField(serializers.IntegerField):
    """A record's `version` (optimistic locking), bounded so that the version a change is based
    on and the next one (at least one more) fit the database column: beyond it, the database
    would refuse the query instead of the API refusing the value."""

    def __init__(self, **kwargs):
        super().__init__(
            required=False,
            min_value=0,
            max_value=BigIntegerField.MAX_BIGINT - 1,
            help_text=(
                "The record's version. Send the version you read with every change: a change "
                "based on a version that is no longer current is refused (409), so no "
                "concurrent edit is lost."
            ),
            **kwargs,
        )


class ModelCleanSerializer(serializers.ModelSerializer):
    """Validates as admin does, with the model's `full_clean` (constraints included), and
    reports each problem under the API's name for the field. Saves all or nothing.

    Changes to a record with a `version` must say which version they are based on.
    """

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is not None and "version" in self.fields and "version" not in attrs:
            raise serializers.ValidationError(
                {"version": ["Send the version of the record you read."]}
            )
        model = self.Meta.model
        instance = copy.copy(self.instance) if self.instance is not None else model()
        concrete = {field.name for field in model._meta.concrete_fields}
        for name, value in attrs.items():
            if name in concrete:
                setattr(instance, name, value)
        api_names = self.api_names()
        try:
            instance.full_clean(exclude=concrete - set(api_names))
        except DjangoValidationError as error:
            raise serializers.ValidationError(api_errors(error, api_names)) from None
        return attrs

    def api_names(self) -> dict[str, tuple[str, ...]]:
        """{model field: its path in the API} for every field this serializer writes."""
        names = {}
        for name, field in self.fields.items():
            if field.read_only:
                continue
            if field.source == "*" and isinstance(field, serializers.Serializer):
                for sub_name, sub in field.fields.items():
                    names[sub.source] = (name, sub_name)
            else:
                names[field.source] = (name,)
        return names

    def create(self, validated_data):
        with transaction.atomic():
            return super().create(validated_data)

    def update(self, instance, validated_data):
        with transaction.atomic():
            return super().update(instance, validated_data)


def schema_doc_excludes() -> list[type]:
    """Base classes whose docstrings describe the code, not an endpoint or a schema."""
    return [*get_lib_doc_excludes(), CuratedViewSetMixin, ModelCleanSerializer]


class FilterSetParameters(DjangoFilterExtension):
    """Documents every filter with its allowed values, those read from the database included.

    drf-spectacular leaves out values that come from a query (agents, targets, platforms...);
    the schema is generated per request, so listing the current ones keeps it true.
    """

    priority = 1

    def _get_explicit_filter_choices(self, filter_field):
        queryset = getattr(filter_field, "queryset", None)
        if queryset is not None:
            field = filter_field.extra.get("to_field_name", "pk")
            return list(queryset.values_list(field, flat=True))
        choices = filter_field.extra.get("choices")
        if callable(choices):
            return [value for value, _ in choices()]
        return super()._get_explicit_filter_choices(filter_field)

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        parameters = super().resolve_filter_field(
            auto_schema, model, filterset_class, field_name, filter_field
        )
        if filter_field.method == "search":
            fields = ", ".join(field.replace("__", ".") for field in filterset_class.search_fields)
            for parameter in parameters:
                parameter["description"] = filterset_class.search_description.format(fields=fields)
        return parameters
