"""What the registry says about a study, as the API gives it beside the curated trial."""

from rest_framework import serializers

from nkkb.core.api.serializers import ModelSerializer

from ..models import RegistryRecord, StudyCandidate
from ..parsing import RECORD_FIELDS


class RegistrySourceSerializer(ModelSerializer):
    """Where a record's values were read and as of when."""

    kind = serializers.CharField(source="source_kind")
    url = serializers.URLField(source="source_url")
    name = serializers.CharField(source="source_name")

    class Meta:
        model = RegistryRecord
        fields = ["kind", "url", "name", "as_of", "fetched", "field_sources", "field_notes"]


class RegistryRecordSerializer(ModelSerializer):
    """A study's registry record: the API v2 fields a researcher uses, NULL where the source is
    silent, and its source. The payload as received is kept for audit, not served."""

    source = RegistrySourceSerializer(source="*", read_only=True)

    class Meta:
        model = RegistryRecord
        fields = [*RECORD_FIELDS, "source"]
        read_only_fields = fields


class StudyCandidateSerializer(ModelSerializer):
    """A study discovery found, waiting for (or past) a curator's decision."""

    record = RegistryRecordSerializer(read_only=True)
    matched_agents = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    matched_products = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    decided_by = serializers.StringRelatedField(read_only=True)

    class Meta:
        model = StudyCandidate
        fields = [
            "record",
            "matched_agents",
            "matched_products",
            "matches",
            "first_seen",
            "status",
            "decided_by",
            "decided_at",
            "decision_reason",
        ]
        read_only_fields = fields
