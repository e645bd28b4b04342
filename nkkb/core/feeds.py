"""Atom feeds: following NKKB in a feed reader instead of by email.

Public: the knowledge base's recent changes (its history, newest first). Curators only: the
open proposals, read with their API token (`?token=`, or `Authorization: Token` as on the API),
checked as the API checks it (an expired one is a 401), or with their admin session. Apps add
their own feeds on these bases (trials.feeds: a trial's history, a saved search).
"""

from django.contrib.auth.models import AnonymousUser
from django.contrib.syndication.views import Feed
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import HttpResponse
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from rest_framework.exceptions import AuthenticationFailed

from .api.authentication import ExpiringTokenAuthentication, TokenExpired
from .history import HISTORY_TYPES, delta_changes, history_author, recent_changes, recent_records
from .knowledge_base import public_knowledge_base_models
from .models import Proposal, ProposalStatus
from .proposals import proposal_diff

# Items per feed: a reader polls often, and sees what it missed since.
FEED_LENGTH = 50


class AtomFeed(Feed):
    feed_type = Atom1Feed
    item_guid_is_permalink = False


def record_url(instance) -> str:
    """A record's public page; the home page for a record without one (or gone)."""
    try:
        return instance.get_absolute_url()
    except (AttributeError, ObjectDoesNotExist):
        return "/"


class HistoryFeed(AtomFeed):
    """A feed whose items are historical records (django-simple-history), each with who, why
    and, where the record had an earlier version, what changed."""

    def item_title(self, record):
        kind = record.instance._meta.verbose_name
        return f"{HISTORY_TYPES.get(record.history_type, record.history_type)} {kind} {record}"

    def item_description(self, record):
        lines = [f"{history_author(record)}: {record.history_change_reason or 'no reason given'}"]
        previous = record.prev_record if record.history_type == "~" else None
        if previous is not None:
            lines += [
                f"{change['field']}: {change['old']} → {change['new']}"
                for change in delta_changes(type(record.instance), record, previous)
            ]
        return "\n".join(lines)

    def item_link(self, record):
        return record_url(record.instance)

    def item_guid(self, record):
        return f"urn:nkkb:{record.instance._meta.label_lower}:change:{record.history_id}"

    def item_pubdate(self, record):
        return record.history_date

    def item_updateddate(self, record):
        return record.history_date

    def item_author_name(self, record):
        return history_author(record)


class RecentChangesFeed(HistoryFeed):
    """/feeds/changes/: every accepted change to the public knowledge base, newest first."""

    title = "NKKB: recent changes"
    subtitle = "Changes to the knowledge base of NK-cell therapies and their trials."

    def link(self):
        return "/"

    def items(self):
        models = {model._meta.label_lower: model for model in public_knowledge_base_models()}
        rows = list(recent_changes(models.values())[:FEED_LENGTH])
        return recent_records(rows, models)


def feed_reader(request):
    """Who reads a feed: the API token's user (`?token=`, as feed readers send no headers, or
    `Authorization: Token`), else the session's. An expired token raises TokenExpired; an
    unknown one reads as nobody."""
    authentication = ExpiringTokenAuthentication()
    key = request.GET.get("token")
    try:
        if key:
            return authentication.authenticate_credentials(key)[0]
        credentials = authentication.authenticate(request)
    except TokenExpired:
        raise
    except AuthenticationFailed:
        return AnonymousUser()
    return request.user if credentials is None else credentials[0]


class OpenProposalsFeed(AtomFeed):
    """/feeds/proposals/?token=<API token>: proposals waiting for review, newest first."""

    title = "NKKB: open proposals"
    subtitle = "Changes proposed to the knowledge base, waiting for a curator's review."

    def __call__(self, request, *args, **kwargs):
        try:
            reader = feed_reader(request)
        except TokenExpired as expired:
            return HttpResponse(
                expired.detail,
                status=401,
                content_type="text/plain; charset=utf-8",
                headers={"WWW-Authenticate": ExpiringTokenAuthentication.keyword},
            )
        if not reader.has_perm("core.change_proposal"):
            raise PermissionDenied("The open proposals are for curators: add ?token=<API token>.")
        return super().__call__(request, *args, **kwargs)

    def link(self):
        return reverse("admin:core_proposal_changelist") + "?status__exact=open"

    def items(self):
        return Proposal.objects.filter(status=ProposalStatus.OPEN).select_related(
            "content_type", "proposed_by"
        )[:FEED_LENGTH]

    def item_title(self, proposal):
        return str(proposal)

    def item_description(self, proposal):
        lines = [f"{proposal.proposed_by.get_username()}: {proposal.reason}"]
        lines.append(f"Source: {proposal.source}")
        lines += [
            f"{row['label']}: {row['current']} → {row['proposed']}"
            for row in proposal_diff(proposal)
        ]
        return "\n".join(lines)

    def item_link(self, proposal):
        return proposal.get_absolute_url()

    def item_guid(self, proposal):
        return f"urn:nkkb:proposal:{proposal.pk}"

    def item_pubdate(self, proposal):
        return proposal.created

    def item_updateddate(self, proposal):
        return proposal.created

    def item_author_name(self, proposal):
        return proposal.proposed_by.get_username()
