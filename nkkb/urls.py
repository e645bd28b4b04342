"""The site's URLs: each app's, the API's and admin. The shell names apps, never imports them."""

from django.contrib import admin
from django.urls import include, path

from nkkb.core.feeds import OpenProposalsFeed, RecentChangesFeed
from nkkb.core.history import recent_changes_view

urlpatterns = [
    path("", include("agents.urls")),
    path("", include("trials.urls")),
    path("api/", include("nkkb.api_urls")),
    path("feeds/changes/", RecentChangesFeed(), name="feed_changes"),
    path("feeds/proposals/", OpenProposalsFeed(), name="feed_proposals"),
    path("admin/history/", admin.site.admin_view(recent_changes_view), name="recent_changes"),
    path("admin/", admin.site.urls),
]

# Errors are JSON under /api/, pages elsewhere (nkkb.core.errors).
handler400 = "nkkb.core.errors.bad_request"
handler403 = "nkkb.core.errors.permission_denied"
handler404 = "nkkb.core.errors.page_not_found"
handler500 = "nkkb.core.errors.server_error"
