from django.urls import path

from . import feeds, views

app_name = "trials"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("trials/", views.TrialListView.as_view(), name="trial_list"),
    path("trials/<str:nct_id>/", views.TrialDetailView.as_view(), name="trial_detail"),
    path("landscape/", views.LandscapeView.as_view(), name="landscape"),
    path(
        "curation/discrepancies/",
        views.DiscrepancyListView.as_view(),
        name="discrepancy_list",
    ),
    path("curation/candidates/", views.CandidateListView.as_view(), name="candidate_list"),
]

# Atom feeds (trials.feeds): a saved search, and one trial's history.
urlpatterns += [
    path("feeds/trials/", feeds.TrialSearchFeed(), name="trial_search_feed"),
    path("feeds/trials/<str:nct_id>/", feeds.TrialHistoryFeed(), name="trial_feed"),
]
