from rest_framework import permissions
from rest_framework.viewsets import ReadOnlyModelViewSet

from ..models import StudyCandidate
from .serializers import StudyCandidateSerializer


class CuratorsOnly(permissions.DjangoModelPermissions):
    """Readers need the model's view permission: candidates are never public."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class StudyCandidateViewSet(ReadOnlyModelViewSet):
    """Registry studies discovery found, for curators only: read-only (they are accepted or
    rejected on /curation/candidates/), newest first; `status` filters (open, accepted,
    rejected)."""

    serializer_class = StudyCandidateSerializer
    permission_classes = [CuratorsOnly]
    lookup_field = "record__nct_id"
    lookup_url_kwarg = "nct_id"
    lookup_value_regex = "NCT[0-9]{8}"
    queryset = (
        StudyCandidate.objects.select_related("record", "decided_by")
        .prefetch_related("matched_agents", "matched_products")
        .order_by("-first_seen", "pk")
    )
    filterset_fields = ["status"]
