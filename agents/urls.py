from django.urls import path

from . import views

app_name = "agents"

urlpatterns = [
    path("agents/", views.AgentListView.as_view(), name="agent_list"),
    path("agents/<slug:slug>/", views.AgentDetailView.as_view(), name="agent_detail"),
    path("targets/", views.TargetListView.as_view(), name="target_list"),
    path("targets/<slug:slug>/", views.TargetDetailView.as_view(), name="target_detail"),
    path("nk-products/", views.NKCellProductListView.as_view(), name="nk_product_list"),
    path(
        "nk-products/<slug:slug>/",
        views.NKCellProductDetailView.as_view(),
        name="nk_product_detail",
    ),
    path("compatibility/", views.CompatibilityView.as_view(), name="compatibility"),
]
