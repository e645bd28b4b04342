from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("targets", views.TargetViewSet, basename="target")
router.register("agents", views.AgentViewSet, basename="agent")
router.register("nk-products", views.NKCellProductViewSet, basename="nk-product")

urlpatterns = [
    *router.urls,
    path("compatibility/", views.CompatibilityView.as_view(), name="compatibility"),
]
