from django.core.exceptions import ValidationError
from rest_framework import exceptions
from rest_framework.viewsets import ModelViewSet

from nkkb.core.api.viewsets import CuratedViewSetMixin, SparseFieldsMixin

from ..filtersets import ConditionFilterSet, TrialFilterSet
from ..models import Condition, Trial, parse_nct_id
from .serializers import (
    ConditionSerializer,
    TrialSerializer,
)


class TrialViewSet(SparseFieldsMixin, CuratedViewSetMixin, ModelViewSet):
    """Clinical trials, by NCT number (a malformed one is a 404 that says so)."""

    queryset = Trial.objects.with_related()
    serializer_class = TrialSerializer
    filterset_class = TrialFilterSet
    lookup_field = "nct_id"

    def get_object(self):
        try:
            self.kwargs[self.lookup_field] = parse_nct_id(self.kwargs[self.lookup_field])
        except ValidationError as error:
            raise exceptions.NotFound(error.messages[0]) from None
        return super().get_object()


class ConditionViewSet(CuratedViewSetMixin, ModelViewSet):
    """Diseases and tumor settings that trials enroll, by slug."""

    queryset = Condition.objects.all()
    serializer_class = ConditionSerializer
    filterset_class = ConditionFilterSet
