import re

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, permissions
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import ModelViewSet

from nkkb.api import CuratedViewSetMixin, SparseFieldsMixin

from ..compatibility import pair_warnings
from ..filtersets import ConditionFilterSet, TrialFilterSet
from ..models import NCT_ID_MESSAGE, NCT_ID_PATTERN, Condition, Trial
from .serializers import (
    CompatibilityQuerySerializer,
    CompatibilitySerializer,
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
        nct_id = self.kwargs[self.lookup_field]
        if not re.fullmatch(NCT_ID_PATTERN, nct_id):
            raise exceptions.NotFound(f"{nct_id!r} is not an NCT number. {NCT_ID_MESSAGE}")
        return super().get_object()


class ConditionViewSet(CuratedViewSetMixin, ModelViewSet):
    """Diseases and tumor settings that trials enroll, by slug."""

    queryset = Condition.objects.all()
    serializer_class = ConditionSerializer
    filterset_class = ConditionFilterSet


class CompatibilityView(APIView):
    """Check an agent x NK cell product pair against the rules the trial pages apply."""

    permission_classes = [permissions.AllowAny]
    http_method_names = ["get", "head", "options"]

    @extend_schema(
        parameters=[CompatibilityQuerySerializer],
        responses=CompatibilitySerializer,
    )
    def get(self, request):
        query = CompatibilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        agent, product = query.validated_data["agent"], query.validated_data["product"]
        checked = {"agent": agent, "product": product, "warnings": pair_warnings(agent, product)}
        return Response(CompatibilitySerializer(checked).data)
