"""What every model's ViewSet mixes in: its FilterSet, JSON or CSV, sparse fields, clear 404s."""

from django.http import Http404
from rest_framework import exceptions, permissions, renderers
from rest_framework.settings import api_settings

from ..tables import MAX_EXPORT_ROWS
from .filters import SparseFieldsFilter, selected_fields
from .renderers import CSVRenderer


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
