"""Trials and conditions in the API; a trial is written with its agents, products, conditions."""

from collections import Counter

from django.db import transaction
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent, build_basic_type
from drf_spectacular.types import OpenApiTypes
from rest_flex_fields.serializers import FlexFieldsSerializerMixin
from rest_framework import serializers

from agents.api.serializers import CompatibilityWarningSerializer, NKCellProductBriefSerializer
from agents.choices import AgentClass
from agents.models import Agent, NKCellProduct
from nkkb.core.api.serializers import (
    BriefSlugRelatedField,
    ComputedListSerializer,
    FacetCountField,
    FilteredListURLField,
    HTMLURLField,
    ModelCleanSerializer,
    ModelSerializer,
    ProvenanceSerializer,
    RecordURLField,
    VersionField,
)
from nkkb.core.models import ReviewSection
from registry.api.serializers import RegistryRecordSerializer

from ..choices import DiscrepancyKind, TherapyClass
from ..discrepancies import trial_discrepancies
from ..models import Caveat, Condition, PlacementBasis, Result, Trial, TrialAgent
from ..services.trial_agents import trial_agents_replace


class ConditionSlugField(serializers.SlugRelatedField):
    """A condition written as its slug."""

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", Condition.objects.all())
        super().__init__(slug_field="slug", **kwargs)


class ConditionSlugFieldSchema(OpenApiSerializerFieldExtension):
    """Every field that takes condition slugs (a trial's conditions, a condition's parent) takes
    one enum of them, ConditionSlugEnum: named per field, as slugs otherwise are, the same set
    would carry two names."""

    target_class = ConditionSlugField
    match_subclasses = True
    priority = 1

    def map_serializer_field(self, auto_schema, direction):
        if direction != "request":
            return auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        slugs = Condition.objects.order_by("slug").values_list("slug", flat=True)
        component = ResolvedComponent(
            name="ConditionSlugEnum",
            type=ResolvedComponent.SCHEMA,
            object="ConditionSlugEnum",
            schema={**build_basic_type(OpenApiTypes.STR), "enum": list(slugs)},
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


class ConditionProvenanceSerializer(serializers.Serializer):
    """What a condition's place in the hierarchy rests on: the review (its section, references
    and a verbatim quote), or a standard classification where the review does not say (named,
    with no review section or quote). All empty for a condition no one has placed yet."""

    basis = serializers.ChoiceField(
        choices=PlacementBasis.choices, source="placement_basis", allow_null=True, required=False
    )
    section = serializers.ChoiceField(
        choices=ReviewSection.choices, source="source_section", allow_blank=True, required=False
    )
    references = serializers.ListField(
        child=serializers.IntegerField(min_value=1), source="source_references", required=False
    )
    quote = serializers.CharField(
        source="source_quote",
        allow_blank=True,
        required=False,
        max_length=Condition._meta.get_field("source_quote").max_length,
    )
    summary = serializers.CharField(source="source_summary", allow_blank=True, required=False)
    classification = serializers.CharField(
        allow_blank=True,
        required=False,
        max_length=Condition._meta.get_field("classification").max_length,
        help_text="The classification and its category that place it, where the review does not.",
    )


class ConditionSerializer(ModelCleanSerializer):
    """A condition, its place in the hierarchy, how many trials enroll it (or a condition below
    it) and where to list them."""

    url = RecordURLField(view_name="api:condition-detail", lookup_field="slug")
    html_url = HTMLURLField()
    parent = ConditionSlugField(
        allow_null=True,
        required=False,
        help_text="The slug of the group it belongs to; null at the top of the hierarchy.",
    )
    provenance = ConditionProvenanceSerializer(source="*", required=False)
    trial_count = FacetCountField(help_text="Trials filed under it or under a condition below it.")
    trials_url = FilteredListURLField("api:trial-list", "condition")
    version = VersionField()

    class Meta:
        model = Condition
        fields = [
            "url",
            "html_url",
            "slug",
            "name",
            "parent",
            "provenance",
            "trial_count",
            "trials_url",
            "version",
        ]


class ConditionNameField(ConditionSlugField):
    """A condition written as its slug and read as its name."""

    def to_representation(self, condition):
        return condition.name


class TrialAgentSerializer(ModelCleanSerializer):
    """An agent given in a trial: read with its class, platform and targets; written as
    `{"agent": slug, "role": ..., "detail": ...}`."""

    agent = serializers.SlugRelatedField(
        slug_field="slug", queryset=Agent.objects.all(), write_only=True, help_text="Agent slug."
    )
    name = serializers.CharField(source="agent.name", read_only=True)
    slug = serializers.SlugField(source="agent.slug", read_only=True)
    agent_class = serializers.ChoiceField(
        source="agent.agent_class", choices=AgentClass.choices, read_only=True
    )
    platform = serializers.CharField(source="agent.platform", read_only=True, allow_null=True)
    targets = serializers.SlugRelatedField(
        source="agent.targets", slug_field="slug", many=True, read_only=True
    )

    class Meta:
        model = TrialAgent
        fields = ["name", "slug", "agent_class", "platform", "targets", "role", "detail", "agent"]


class ResultSerializer(ModelSerializer):
    class Meta:
        model = Result
        fields = [
            "metric",
            "value",
            "unit",
            "value_qualifier",
            "denominator",
            "population",
            "timepoint",
        ]


class CaveatSerializer(ModelSerializer):
    """A curator's reading of an ambiguous passage: which part of the trial it qualifies (and
    which agent, for one agent link), and where in the review the passage is."""

    agent = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        allow_null=True,
        help_text="The agent slug, for a caveat about one agent link; null otherwise.",
    )
    provenance = ProvenanceSerializer(source="*", read_only=True)

    class Meta:
        model = Caveat
        fields = ["qualifies", "agent", "text", "provenance"]
        read_only_fields = fields


class DiscrepancySerializer(serializers.Serializer):
    """A field on which the registry and the curators differ (trials/discrepancies.py)."""

    field = serializers.CharField()
    kind = serializers.ChoiceField(choices=DiscrepancyKind.choices)
    curated = serializers.CharField(allow_null=True)
    registry = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class TrialSerializer(FlexFieldsSerializerMixin, ModelCleanSerializer):
    """A trial: what it tests, in whom, its results, warnings, and where the review says so."""

    url = RecordURLField(view_name="api:trial-detail", lookup_field="nct_id")
    html_url = HTMLURLField()
    ctgov_url = serializers.URLField(read_only=True)
    therapy_classes = serializers.ListField(
        child=serializers.ChoiceField(choices=TherapyClass.choices),
        read_only=True,
        help_text="Derived from its agents' classes and its NK cell products.",
    )
    conditions = ConditionNameField(
        many=True,
        queryset=Condition.objects.all(),
        required=False,
        help_text="Read as names; written as condition slugs.",
    )
    agents = TrialAgentSerializer(source="trial_agents", many=True, required=False)
    nk_products = BriefSlugRelatedField(
        NKCellProductBriefSerializer,
        many=True,
        queryset=NKCellProduct.objects.all(),
        required=False,
        help_text="Written as NK cell product slugs.",
    )
    results = ResultSerializer(many=True, read_only=True)
    caveats = CaveatSerializer(
        many=True,
        read_only=True,
        help_text="Curators' readings of ambiguous passages, each naming what it qualifies.",
    )
    compatibility_warnings = CompatibilityWarningSerializer(many=True, read_only=True)
    registry = RegistryRecordSerializer(
        source="registry_record",
        read_only=True,
        allow_null=True,
        help_text="What the registry says (null until NKKB has read it): never written over "
        "the curated fields.",
    )
    discrepancies = ComputedListSerializer(
        child=DiscrepancySerializer(),
        compute=lambda trial: trial_discrepancies(trial, trial.registry_record),
        help_text="Where the registry record differs from what curators state.",
    )
    provenance = ProvenanceSerializer(source="*")
    version = VersionField()

    class Meta:
        model = Trial
        fields = [
            "url",
            "html_url",
            "ctgov_url",
            "nct_id",
            "title",
            "phase",
            "status",
            "status_note",
            "start_year",
            "enrollment",
            "conditions",
            "therapy_classes",
            "agents",
            "nk_products",
            "results",
            "caveats",
            "compatibility_warnings",
            "registry",
            "discrepancies",
            "provenance",
            "last_updated",
            "version",
        ]
        # The relations (TrialQuerySet.with_related) each field reads, for `fields`/`omit`.
        field_relations = {
            "conditions": ("conditions",),
            "therapy_classes": ("trial_agents", "nk_products"),
            "agents": ("trial_agents",),
            "nk_products": ("nk_products",),
            "results": ("results",),
            "caveats": ("caveats",),
            "compatibility_warnings": ("trial_agents", "nk_products"),
            "registry": ("registry_record",),
            "discrepancies": ("registry_record", "trial_agents", "nk_products"),
        }

    def validate_agents(self, links):
        repeated = [
            agent.slug
            for agent, count in Counter(link["agent"] for link in links).items()
            if count > 1
        ]
        if repeated:
            raise serializers.ValidationError(
                f"Each agent may be listed once; listed more than once: {', '.join(repeated)}."
            )
        return links

    def create(self, validated_data):
        links = validated_data.pop("trial_agents", None)
        with transaction.atomic():
            trial = super().create(validated_data)
            if links is not None:
                trial_agents_replace(trial=trial, links=links)
        return trial

    def update(self, trial, validated_data):
        links = validated_data.pop("trial_agents", None)
        with transaction.atomic():
            trial = super().update(trial, validated_data)
            if links is not None:
                trial_agents_replace(trial=trial, links=links)
        return trial
