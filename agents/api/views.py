from django.db.models.functions import Lower
from drf_spectacular.utils import extend_schema
from rest_framework import permissions
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import ModelViewSet

from nkkb.core.api.viewsets import CuratedViewSetMixin

from ..compatibility import pair_warnings
from ..filtersets import AgentFilterSet, NKCellProductFilterSet, TargetFilterSet
from ..models import Agent, NKCellProduct, Target
from .serializers import (
    AgentSerializer,
    CompatibilityQuerySerializer,
    CompatibilitySerializer,
    NKCellProductSerializer,
    TargetSerializer,
)


class TargetViewSet(CuratedViewSetMixin, ModelViewSet):
    """Receptors and antigens that agents bind or NK cell products' CARs target, by slug."""

    queryset = Target.objects.prefetch_related("agents", "nk_products").order_by(Lower("name"))
    serializer_class = TargetSerializer
    filterset_class = TargetFilterSet


class AgentViewSet(CuratedViewSetMixin, ModelViewSet):
    """Cytokines, antibodies, NK cell engagers and co-therapies, by slug."""

    queryset = Agent.objects.prefetch_related("targets").order_by(Lower("name"))
    serializer_class = AgentSerializer
    filterset_class = AgentFilterSet


class NKCellProductViewSet(CuratedViewSetMixin, ModelViewSet):
    """Adoptively transferred NK cell products, by slug: origin, donor, CD16, CAR targets."""

    queryset = NKCellProduct.objects.prefetch_related("targets").order_by(Lower("name"))
    serializer_class = NKCellProductSerializer
    filterset_class = NKCellProductFilterSet


class CompatibilityView(APIView):
    """Check an agent x NK cell product pair against the rules the trial pages apply."""

    permission_classes = [permissions.AllowAny]
    http_method_names = ["get", "head", "options"]
    query_parameters = ("agent", "product")

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
