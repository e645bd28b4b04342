from nkkb.core.filtersets import (
    RECORDED_BOOLEAN_CHOICES,
    MultipleChoiceFilter,
    NullsLastOrderingFilter,
    SearchFilterSet,
    choices_read_from,
    recorded_boolean_condition,
    recorded_boolean_rows,
    slug_filter,
)

from .choices import AgentClass, ApprovalStatus, CD16Status, ProductDonor, ProductSource, TargetKind
from .models import Agent, NKCellProduct, Target

ORDERING_HELP = "Sort by these fields, comma-separated; a leading - sorts descending. Empty last."


@choices_read_from(Agent)
def platform_choices():
    """The platforms agents have, sorted as readers expect ("bacterial vector" before "TriKE")."""
    platforms = Agent.objects.exclude(platform=None).order_by().values_list("platform", flat=True)
    return [(platform, platform) for platform in sorted(platforms.distinct(), key=str.casefold)]


def cd16_dependence_rows():
    """The rows of the `acts_through_cd16` facet: true, false, or unknown where not recorded."""
    return recorded_boolean_rows(Agent, "acts_through_cd16")


class TargetFilterSet(SearchFilterSet):
    search_fields = ("name", "slug", "aliases", "description")

    kind = MultipleChoiceFilter(choices=TargetKind.choices, label="Kind")
    ordering = NullsLastOrderingFilter(fields=("name", "kind"), help_text=ORDERING_HELP)

    facet_paths = {"kind": ("kind",)}

    class Meta:
        model = Target
        fields = ["q", "kind", "ordering"]


class AgentFilterSet(SearchFilterSet):
    search_fields = ("name", "slug", "aliases", "platform", "mechanism", "targets__name")

    agent_class = MultipleChoiceFilter(choices=AgentClass.choices, label="Class")
    platform = MultipleChoiceFilter(choices=platform_choices, label="Platform")
    target = slug_filter(
        Target, field_name="targets", label="Target", help_text="Slug of a target it binds."
    )
    acts_through_cd16 = MultipleChoiceFilter(
        choices=RECORDED_BOOLEAN_CHOICES,
        method="filter_recorded_boolean",
        label="Acts through CD16",
        help_text="`true`, `false`, or `unknown` where NKKB does not record it; any when absent.",
    )
    approval_status = MultipleChoiceFilter(choices=ApprovalStatus.choices, label="Approval status")
    ordering = NullsLastOrderingFilter(
        fields=("name", "agent_class", "platform", "acts_through_cd16", "approval_status"),
        help_text=ORDERING_HELP,
    )

    facet_paths = {
        "agent_class": ("agent_class",),
        "platform": ("platform",),
        "target": ("targets__slug",),
        "acts_through_cd16": cd16_dependence_rows,
        "approval_status": ("approval_status",),
    }

    class Meta:
        model = Agent
        fields = [
            "q",
            "agent_class",
            "platform",
            "target",
            "acts_through_cd16",
            "approval_status",
            "ordering",
        ]

    def filter_recorded_boolean(self, queryset, name, values: str):
        return queryset.filter(recorded_boolean_condition(name, values))


class NKCellProductFilterSet(SearchFilterSet):
    search_fields = ("name", "slug", "aliases", "engineering", "expansion", "targets__name")

    source = MultipleChoiceFilter(choices=ProductSource.choices, label="Source")
    donor = MultipleChoiceFilter(choices=ProductDonor.choices, label="Donor")
    cd16_status = MultipleChoiceFilter(choices=CD16Status.choices, label="CD16 status")
    target = slug_filter(
        Target,
        field_name="targets",
        label="CAR target",
        help_text="Slug of a target its CAR targets.",
    )
    ordering = NullsLastOrderingFilter(
        fields=("name", "source", "donor", "cd16_status"), help_text=ORDERING_HELP
    )

    facet_paths = {
        "source": ("source",),
        "donor": ("donor",),
        "cd16_status": ("cd16_status",),
        "target": ("targets__slug",),
    }

    class Meta:
        model = NKCellProduct
        fields = ["q", "source", "donor", "cd16_status", "target", "ordering"]
