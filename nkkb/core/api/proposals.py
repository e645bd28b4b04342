"""/api/v1/proposals/: proposals for review, read-only, for curators (nkkb.core.proposals)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.routers import SimpleRouter
from rest_framework.viewsets import ReadOnlyModelViewSet

from ..models import Proposal
from ..proposals import proposal_diff, proposal_is_stale
from .permissions import reading_requires
from .serializers import ModelSerializer


class ProposalChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    label = serializers.CharField()
    current = serializers.CharField()
    proposed = serializers.CharField()


class ProposalSerializer(ModelSerializer):
    """A proposal with its diff against the current record, as the review page shows it."""

    kind = serializers.CharField(source="content_type.model_class._meta.label_lower")
    record = serializers.SerializerMethodField()
    stale = serializers.SerializerMethodField()
    diff = serializers.SerializerMethodField()
    proposed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    reviewed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Proposal
        fields = [
            "id",
            "kind",
            "object_id",
            "record",
            "status",
            "stale",
            "changes",
            "diff",
            "base_version",
            "source",
            "reason",
            "proposed_by",
            "created",
            "reviewed_by",
            "reviewed_at",
            "review_comment",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_record(self, proposal) -> str | None:
        return None if proposal.record is None else str(proposal.record)

    def get_stale(self, proposal) -> bool:
        return proposal_is_stale(proposal, proposal.record)

    @extend_schema_field(ProposalChangeSerializer(many=True))
    def get_diff(self, proposal):
        return proposal_diff(proposal, proposal.record)


class ProposalViewSet(ReadOnlyModelViewSet):
    """Proposals, newest first; `status` filters (open, accepted, rejected). Curators only:
    they are reviewed in admin."""

    serializer_class = ProposalSerializer
    # Curators review (change) proposals; contributors see only theirs, in admin.
    permission_classes = [reading_requires("change")]
    lookup_field = "id"
    lookup_value_regex = "[0-9]+"
    queryset = Proposal.objects.select_related(
        "content_type", "proposed_by", "reviewed_by"
    ).prefetch_related("record")
    filterset_fields = ["status"]


router = SimpleRouter()
router.register("proposals", ProposalViewSet, basename="proposal")
urlpatterns = router.urls
