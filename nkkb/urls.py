from django.contrib import admin
from django.urls import include, path

from .views import HomeView

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("", include("agents.urls")),
    path("", include("trials.urls")),
    path("api/", include("nkkb.api_urls")),
    path("admin/", admin.site.urls),
]
