from rest_framework.viewsets import ReadOnlyModelViewSet

from nkkb.core.api.permissions import reading_requires

from ..models import StudyCandidate
from .serializers import StudyCandidateSerializer


class StudyCandidateViewSet(ReadOnlyModelViewSet):
    """Registry studies discovery found, for curators only: read-only (they are accepted or
    rejected on /curation/candidates/), newest first; `status` filters (open, accepted,
    rejected)."""

    serializer_class = StudyCandidateSerializer
    permission_classes = [reading_requires("view")]
    lookup_field = "record__nct_id"
    lookup_url_kwarg = "nct_id"
    lookup_value_regex = "NCT[0-9]{8}"
    queryset = (
        StudyCandidate.objects.select_related("record", "decided_by")
        .prefetch_related("matched_agents", "matched_products")
        .order_by("-first_seen", "pk")
    )
    filterset_fields = ["status"]
