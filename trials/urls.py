from django.urls import path

from . import views

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
