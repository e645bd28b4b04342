from rest_framework.viewsets import ModelViewSet

from nkkb.api import CuratedViewSetMixin

from ..filtersets import AgentFilterSet, NKCellProductFilterSet, TargetFilterSet
from ..models import Agent, NKCellProduct, Target
from .serializers import AgentSerializer, NKCellProductSerializer, TargetSerializer


class TargetViewSet(CuratedViewSetMixin, ModelViewSet):
    """Receptors and antigens that agents bind or NK cell products' CARs target, by slug."""

    queryset = Target.objects.prefetch_related("agents", "nk_products")
    serializer_class = TargetSerializer
    filterset_class = TargetFilterSet


class AgentViewSet(CuratedViewSetMixin, ModelViewSet):
    """Cytokines, antibodies, NK cell engagers and co-therapies, by slug."""

    queryset = Agent.objects.prefetch_related("targets")
    serializer_class = AgentSerializer
    filterset_class = AgentFilterSet


class NKCellProductViewSet(CuratedViewSetMixin, ModelViewSet):
    """Adoptively transferred NK cell products, by slug: origin, donor, CD16, CAR targets."""

    queryset = NKCellProduct.objects.prefetch_related("targets")
    serializer_class = NKCellProductSerializer
    filterset_class = NKCellProductFilterSet
