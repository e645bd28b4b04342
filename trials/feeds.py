"""Atom feeds of trials: one trial's history, and a saved search ("new trials matching this
filter"), so that a researcher follows a query in a feed reader (nkkb.core.feeds)."""

from django.shortcuts import get_object_or_404
from django.urls import reverse

from nkkb.core.feeds import FEED_LENGTH, AtomFeed, HistoryFeed
from nkkb.core.limits import error_response

from .filtersets import TrialFilterSet
from .models import Trial


class TrialHistoryFeed(HistoryFeed):
    """/feeds/trials/<NCT number>/: every change to one trial, newest first."""

    def get_object(self, request, nct_id):
        return get_object_or_404(Trial, nct_id=nct_id.strip().upper())

    def title(self, trial):
        return f"NKKB: changes to {trial.nct_id}"

    def subtitle(self, trial):
        return trial.title

    def link(self, trial):
        return trial.get_absolute_url()

    def items(self, trial):
        return trial.history.select_related("history_user")[:FEED_LENGTH]


class TrialSearchFeed(AtomFeed):
    """/feeds/trials/?<the trial list's query string>: the trials that filter finds, newest
    first by when they entered NKKB (the latest FEED_LENGTH). An invalid filter is a 400."""

    title = "NKKB: trials matching a search"

    def __call__(self, request, *args, **kwargs):
        filterset = TrialFilterSet(request.GET, queryset=Trial.objects.all(), request=request)
        if not filterset.is_valid():
            return error_response(request, 400, filterset.errors)
        request.nkkb_trials = filterset.qs.order_by("-created", "-pk")[:FEED_LENGTH]
        return super().__call__(request, *args, **kwargs)

    def get_object(self, request):
        return request

    def subtitle(self, request):
        query = request.GET.urlencode()
        return f"Trials listed at /trials/?{query}" if query else "Every trial in NKKB"

    def link(self, request):
        query = request.GET.urlencode()
        return reverse("trials:trial_list") + (f"?{query}" if query else "")

    def items(self, request):
        return request.nkkb_trials

    def item_title(self, trial):
        return f"{trial.nct_id}: {trial.title}"

    def item_description(self, trial):
        parts = [
            f"Phase {trial.get_phase_display()}" if trial.phase else "",
            trial.get_status_display() if trial.status else "",
        ]
        return ", ".join(part for part in parts if part) or trial.title

    def item_link(self, trial):
        return trial.get_absolute_url()

    def item_guid(self, trial):
        return f"urn:nkkb:trial:{trial.nct_id}"

    def item_pubdate(self, trial):
        return trial.created

    def item_updateddate(self, trial):
        return trial.last_updated
