from django.core.exceptions import ValidationError
from rest_framework import exceptions
from rest_framework.settings import api_settings
from rest_framework.viewsets import ModelViewSet

from nkkb.core.api.renderers import CSVRenderer
from nkkb.core.api.viewsets import CuratedViewSetMixin, PlainReadsMixin

from ..exports import trial_spreadsheet
from ..filtersets import ConditionFilterSet, TrialFilterSet
from ..models import Condition, Trial, parse_nct_id
from ..search import search_suggestions
from .reading import rows_read_with_relations, trial_record, trial_records, trial_rows
from .serializers import (
    ConditionSerializer,
    TrialSerializer,
)

SUGGESTIONS_HEADER = "X-Search-Suggestions"


class TrialCSVRenderer(CSVRenderer):
    """Trials as the page's *Export CSV* writes them (trials.exports): labels, links, targets,
    warnings and results, internal fields left out; `fields`/`omit` keep the columns they feed."""

    def table(self, rows, view):
        return trial_spreadsheet(rows, fields=set(view.get_serializer().fields))


def _found_nothing(data) -> bool:
    return data == [] or (isinstance(data, dict) and data.get("count") == 0)


class TrialViewSet(CuratedViewSetMixin, PlainReadsMixin, ModelViewSet):
    """Clinical trials, by NCT number (a malformed one is a 404 that says so). Read from plain
    rows (trials/api/reading.py): building model instances and nested serializers took most of
    a read's time at 100,000 trials (issue 17)."""

    queryset = Trial.objects.with_related()
    serializer_class = TrialSerializer
    filterset_class = TrialFilterSet
    lookup_field = "nct_id"
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, TrialCSVRenderer]

    def plain_rows(self, queryset):
        return trial_rows(queryset)

    def plain_records(self, page, fields):
        return trial_records(page, fields)

    def reads_rows_with_relations(self, fields):
        return rows_read_with_relations(fields)

    def plain_record(self, key, fields):
        return trial_record(key, fields)

    def list(self, request, *args, **kwargs):
        """A search that finds nothing says, in `X-Search-Suggestions`, what it might have
        meant (comma-separated queries): the list's body keeps its shape."""
        response = super().list(request, *args, **kwargs)
        words = request.query_params.get("q", "").split()
        if words and response.status_code == 200 and _found_nothing(response.data):
            suggestions = search_suggestions(words)
            if suggestions:
                response[SUGGESTIONS_HEADER] = ", ".join(suggestions)
        return response

    def get_object(self):
        try:
            self.kwargs[self.lookup_field] = parse_nct_id(self.kwargs[self.lookup_field])
        except ValidationError as error:
            raise exceptions.NotFound(error.messages[0]) from None
        return super().get_object()


class ConditionViewSet(CuratedViewSetMixin, ModelViewSet):
    """Diseases and tumor settings that trials enroll, by slug, each with its place in the
    hierarchy of conditions (`parent`)."""

    queryset = Condition.objects.select_related("parent")
    serializer_class = ConditionSerializer
    filterset_class = ConditionFilterSet
