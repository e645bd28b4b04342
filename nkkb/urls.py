"""The site's URLs: each app's, the API's and admin. The shell names apps, never imports them."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("agents.urls")),
    path("", include("trials.urls")),
    path("api/", include("nkkb.api_urls")),
    path("admin/", admin.site.urls),
]
