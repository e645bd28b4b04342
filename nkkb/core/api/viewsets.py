"""What every model's ViewSet mixes in: its FilterSet, JSON or CSV, sparse fields, clear 404s,
and reads from plain rows where a model's representation is costly to build."""

import functools

from django.db import transaction
from django.http import Http404
from rest_framework import exceptions, permissions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings

from ..changes import lock_writes
from ..facets import SelectedQuerySet
from ..filtersets import filter_parameters
from ..spreadsheet import export_filename
from ..tables import MAX_EXPORT_ROWS
from .exceptions import Conflict
from .filters import SPARSE_FIELDS, SparseFieldsFilter, selected_fields
from .renderers import CSVRenderer, JSONRenderer
from .serializers import SHARED_PARTS, PlainRepresentation, VersionField


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


@functools.cache
def plain_representation(serializer_class) -> PlainRepresentation:
    """The serializer's representation of plain records, built once per process."""
    return PlainRepresentation(serializer_class())


class PlainReadsMixin(SparseFieldsMixin):
    """A ViewSet whose reads (list, CSV, record) are built from plain rows, in a fixed number of
    queries, rather than from model instances and nested serializers; writes keep the serializer,
    which stays the definition of the representation (and of the schema), and answer with the
    record written as a read gives it.

    The ViewSet reads: `plain_rows(queryset)`, its filtered records as `values()` rows;
    `plain_records(page, fields)`, the records of `page` (such rows, or the records' ids, whose
    rows it reads with their relations), in its order, as plain records holding what the named
    fields of its serializer read (nkkb.core.api.serializers.PlainRepresentation); and
    `plain_record(key, fields)`, one such record by its key. It mixes this in after
    CuratedViewSetMixin, whose `get_object` says which record is missing.
    """

    READ_ACTIONS = frozenset({"list", "retrieve"})

    def plain_rows(self, queryset):
        raise NotImplementedError

    def plain_records(self, page: list[dict] | list[int], fields: list[str]) -> list:
        raise NotImplementedError

    def plain_record(self, key: str, fields: list[str]):
        """The record whose key is `key` as `plain_records` gives it, or None."""
        raise NotImplementedError

    def filter_queryset(self, queryset):
        # After the filters, so that they filter as they do for writes, and `get_object` finds
        # a record (or says what is missing) as it does for them.
        queryset = super().filter_queryset(queryset)
        if self.action in self.READ_ACTIONS:
            return self.plain_rows(queryset)
        # A write reads the record alone: its serializer reads only the relations it changes,
        # and the answer is read again from plain rows (written_representation).
        return queryset.prefetch_related(None)

    @functools.cached_property
    def _plain_representation(self) -> tuple[PlainRepresentation, list[str]]:
        """The representation of this request's records, and the serializer fields it holds."""
        serializer_class = self.get_serializer_class()
        representation = plain_representation(serializer_class)
        # As SparseFieldsMixin gives the serializer: a write answers with every field.
        fields = (
            selected_fields(self.request, serializer_class)
            if self.request.method in permissions.SAFE_METHODS
            else None
        )
        if fields is None:
            return representation, serializer_class.Meta.fields
        return representation.selecting(fields), fields

    def plain_representations(self, page: list[dict] | list[int]) -> list[dict]:
        representation, fields = self._plain_representation
        context = {**self.get_serializer_context(), SHARED_PARTS: {}}
        return [representation(record, context) for record in self.plain_records(page, fields)]

    def reads_rows_with_relations(self, fields: list[str]) -> bool:
        """Whether `plain_records`, given ids, reads their rows in the statement that reads the
        relations of `fields`: then a page given as ids costs no more round trips than rows."""
        return False

    def list(self, request, *args, **kwargs):
        rows = self.filter_queryset(self.get_queryset())
        # A selection's page (nkkb.core.facets) is then taken as its ids, mostly found without
        # a query (the walk): one round trip fewer. Where the walk cannot find them, the ids
        # cost the query the rows would have.
        by_ids = isinstance(rows, SelectedQuerySet) and self.reads_rows_with_relations(
            self._plain_representation[1]
        )
        page = self.paginate_queryset(rows.values_list("pk", flat=True) if by_ids else rows)
        if page is None:
            return Response(self.plain_representations(list(rows)))
        return self.get_paginated_response(self.plain_representations(list(page)))

    def get_object(self):
        """For a read, the record as `plain_records` gives it. Where no filter narrows the
        records (as in nearly every read of one), by `plain_record`, statements compiled once
        that read the record and its relations together: building its query through the
        filters and the ORM cost more than the rest of reading its row (BENCHMARKS.md, "Issue
        17, thirteenth round"). Otherwise, and for writes, as DRF finds it."""
        if self.action != "retrieve":
            return super().get_object()
        _, fields = self._plain_representation
        filters = [*filter_parameters(self.filterset_class), api_settings.SEARCH_PARAM]
        if any(name in self.request.query_params for name in filters):
            return self.plain_records([super().get_object()], fields)[0]
        record = self.plain_record(self.kwargs[self.lookup_url_kwarg or self.lookup_field], fields)
        if record is None:
            raise Http404
        self.check_object_permissions(self.request, record)
        return record

    def retrieve(self, request, *args, **kwargs):
        representation, _ = self._plain_representation
        return Response(representation(self.get_object(), self.get_serializer_context()))

    def written_representation(self, record) -> dict:
        """The record just written, read again from plain rows: the serializer's nested fields
        would read each of its relations again from the saved instance, at a greater cost
        (BENCHMARKS.md, "Issue 17, seventh round")."""
        rows = self.plain_rows(self.get_queryset().filter(pk=record.pk))
        return self.plain_representations(list(rows))[0]

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        data = self.written_representation(serializer.instance)
        return Response(
            data, status=status.HTTP_201_CREATED, headers=self.get_success_headers(data)
        )

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        return Response(self.written_representation(serializer.instance))


class CuratedViewSetMixin:
    """A model's API: its page's FilterSet, JSON or CSV, and 404s that say what was missing.

    CSV holds the whole filtered selection, as the pages' export does: `page` and `page_size`
    apply to JSON only. (A mixin, not a ViewSet: this module is named in the REST_FRAMEWORK
    setting, which DRF's generic views read as they are defined.)
    """

    lookup_field = "slug"
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]

    @classmethod
    def query_parameters(cls):
        """The parameters the API reads (nkkb.core.limits): the filters, `search`, the page
        and, on a delete, the `version` it is based on."""
        pagination = api_settings.DEFAULT_PAGINATION_CLASS
        names = [*filter_parameters(cls.filterset_class), "search", "version"]
        names += [pagination.page_query_param, pagination.page_size_query_param]
        if issubclass(cls, SparseFieldsMixin):
            names += list(SPARSE_FIELDS)
        return names

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

    def perform_destroy(self, instance):
        """A delete, like a change, says which version of the record it is based on
        (`?version=`): deleting a record someone changed since it was read is a 409."""
        if not any(field.name == "version" for field in instance._meta.concrete_fields):
            return super().perform_destroy(instance)
        if "version" not in self.request.query_params:
            raise exceptions.ValidationError(
                {"version": ["Send the version of the record you read (`?version=`)."]}
            )
        try:
            version = VersionField().run_validation(self.request.query_params["version"])
        except exceptions.ValidationError as error:
            raise exceptions.ValidationError({"version": error.detail}) from None
        with transaction.atomic():
            lock_writes()
            # The write lock is taken first (select_for_update; on SQLite the immediate
            # transaction), so no save can come between the check and the delete.
            current = type(instance).objects.select_for_update().filter(pk=instance.pk)
            if not current.filter(version=version).exists():
                raise Conflict(
                    "Someone changed this record after you read it: read it again and send "
                    "its current `version` if it should still be deleted."
                )
            instance.delete()

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
                request.accepted_renderer = JSONRenderer()
                request.accepted_media_type = request.accepted_renderer.media_type
            else:
                selection = [
                    (name, value)
                    for name, values in request.query_params.lists()
                    if name in filter_parameters(self.filterset_class) and name != "ordering"
                    for value in values
                ]
                noun = str(self.queryset.model._meta.verbose_name_plural)
                filename = export_filename(noun, selection)
                response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return super().finalize_response(request, response, *args, **kwargs)
