"""Targets, agents and NK cell products in the API, and the brief forms other records nest."""

from rest_framework import serializers

from nkkb.core.api.serializers import (
    BriefSlugRelatedField,
    FacetCountField,
    FilteredListURLField,
    HTMLURLField,
    ModelCleanSerializer,
    ModelSerializer,
    ProvenanceSerializer,
    RecordURLField,
    VersionField,
)

from ..models import Agent, NKCellProduct, Target


class TargetBriefSerializer(ModelSerializer):
    class Meta:
        model = Target
        fields = ["name", "slug", "kind"]


class AgentBriefSerializer(ModelSerializer):
    class Meta:
        model = Agent
        fields = ["name", "slug", "agent_class", "acts_through_cd16"]


class NKCellProductBriefSerializer(ModelSerializer):
    class Meta:
        model = NKCellProduct
        fields = ["name", "slug", "cd16_status"]


class NamedCuratedSerializer(ModelCleanSerializer):
    """The fields every target, agent and NK cell product has."""

    html_url = HTMLURLField()
    aliases = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Other names the review uses."
    )
    provenance = ProvenanceSerializer(source="*")
    version = VersionField()

    class Meta:
        fields = ["url", "html_url", "slug", "name", "aliases"]
        trailing_fields = ["provenance", "last_updated", "version"]


class TargetSerializer(NamedCuratedSerializer):
    """A target, the agents and NK cell products aimed at it, and their trials."""

    url = RecordURLField(view_name="api:target-detail", lookup_field="slug")
    agents = AgentBriefSerializer(many=True, read_only=True)
    nk_products = NKCellProductBriefSerializer(
        many=True, read_only=True, help_text="NK cell products whose CAR targets it."
    )
    trial_count = FacetCountField(
        help_text="Trials of its agents and of the NK cell products whose CAR targets it.",
    )
    trials_url = FilteredListURLField("api:trial-list", "target")

    class Meta:
        model = Target
        fields = [
            *NamedCuratedSerializer.Meta.fields,
            "kind",
            "description",
            "agents",
            "nk_products",
            "trial_count",
            "trials_url",
            *NamedCuratedSerializer.Meta.trailing_fields,
        ]


class AgentSerializer(NamedCuratedSerializer):
    """An agent: its class, platform, targets, whether it acts through CD16, its trials."""

    url = RecordURLField(view_name="api:agent-detail", lookup_field="slug")
    targets = BriefSlugRelatedField(
        TargetBriefSerializer,
        many=True,
        queryset=Target.objects.all(),
        required=False,
        help_text="Written as target slugs.",
    )
    trial_count = FacetCountField(help_text="Trials that give it.")
    trials_url = FilteredListURLField("api:trial-list", "agent")

    class Meta:
        model = Agent
        fields = [
            *NamedCuratedSerializer.Meta.fields,
            "agent_class",
            "platform",
            "targets",
            "mechanism",
            "acts_through_cd16",
            "approval_status",
            "approval_note",
            "trial_count",
            "trials_url",
            *NamedCuratedSerializer.Meta.trailing_fields,
        ]


class NKCellProductSerializer(NamedCuratedSerializer):
    """An NK cell product: origin, donor, CD16 status, engineering, its trials."""

    url = RecordURLField(view_name="api:nk-product-detail", lookup_field="slug")
    targets = BriefSlugRelatedField(
        TargetBriefSerializer,
        many=True,
        queryset=Target.objects.all(),
        required=False,
        help_text="Antigens its CAR targets; written as target slugs.",
    )
    trial_count = FacetCountField(help_text="Trials that use it.")
    trials_url = FilteredListURLField("api:trial-list", "nk_product")

    class Meta:
        model = NKCellProduct
        fields = [
            *NamedCuratedSerializer.Meta.fields,
            "source",
            "donor",
            "cd16_status",
            "targets",
            "engineering",
            "expansion",
            "description",
            "trial_count",
            "trials_url",
            *NamedCuratedSerializer.Meta.trailing_fields,
        ]


class CompatibilityWarningSerializer(serializers.Serializer):
    """A warning of the compatibility rules (agents/compatibility.py) about a pair."""

    code = serializers.CharField(help_text="e.g. cd16-lacking, adam17-shedding.")
    severity = serializers.CharField(help_text="warning, or caveat for a milder concern.")
    agent = serializers.SlugField(source="agent.slug")
    product = serializers.SlugField(source="product.slug")
    message = serializers.CharField()
    section = serializers.CharField(help_text="The review section the rule comes from.")
    references = serializers.ListField(child=serializers.IntegerField())


class CompatibilityQuerySerializer(serializers.Serializer):
    agent = serializers.SlugRelatedField(
        slug_field="slug", queryset=Agent.objects.all(), help_text="An agent's slug."
    )
    product = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=NKCellProduct.objects.all(),
        help_text="An NK cell product's slug.",
    )


class CompatibilitySerializer(serializers.Serializer):
    agent = AgentBriefSerializer()
    product = NKCellProductBriefSerializer()
    warnings = CompatibilityWarningSerializer(many=True)
