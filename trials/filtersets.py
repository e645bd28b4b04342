import django_filters
from django.db.models import Q

from agents.choices import CD16Status
from agents.filtersets import ORDERING_HELP, platform_choices
from agents.models import Agent, NKCellProduct, Target
from nkkb.facets import facet_values
from nkkb.filtersets import NullsLastOrderingFilter, SearchFilterSet, slug_filter

from .choices import Phase, TherapyClass, TrialStatus
from .models import Condition, Trial, therapy_class_condition

TRIAL_ORDERING = ("nct_id", "title", "phase", "status", "enrollment")


class TrialFilterSet(SearchFilterSet):
    """Filters for trials: one definition for the trial list page and the API."""

    search_fields = (
        "nct_id",
        "title",
        "agents__name",
        "agents__aliases",
        "nk_products__name",
        "conditions__name",
    )

    therapy_class = django_filters.MultipleChoiceFilter(
        choices=TherapyClass.choices,
        method="filter_therapy_class",
        label="Therapy class",
        help_text=(
            "What the trial tests: the class of one of its agents, or nk-cell-product. Several "
            "values ask for trials that combine all of them (cytokine and nk-cell-product)."
        ),
    )
    agent = slug_filter(Agent, field_name="agents", label="Agent", help_text="Agent slug.")
    platform = django_filters.MultipleChoiceFilter(
        field_name="agents__platform",
        choices=platform_choices,
        label="Agent platform",
        help_text="Platform of one of its agents, e.g. TriKE.",
    )
    target = slug_filter(
        Target,
        method="filter_target",
        label="Target",
        help_text="Target slug: bound by one of its agents or by the CAR of one of its products.",
    )
    nk_product = slug_filter(
        NKCellProduct,
        field_name="nk_products",
        label="NK cell product",
        help_text="NK cell product slug.",
    )
    cd16_status = django_filters.MultipleChoiceFilter(
        field_name="nk_products__cd16_status",
        choices=CD16Status.choices,
        label="NK product CD16 status",
        help_text="CD16 status of one of its NK cell products.",
    )
    phase = django_filters.MultipleChoiceFilter(
        choices=Phase.choices, label="Phase", help_text="Phase, by value: 2 is II, 1-2 is I/II."
    )
    status = django_filters.MultipleChoiceFilter(
        choices=TrialStatus.choices, label="Status", help_text="ClinicalTrials.gov overall status."
    )
    condition = slug_filter(
        Condition, field_name="conditions", label="Condition", help_text="Condition slug."
    )
    ordering = NullsLastOrderingFilter(fields=TRIAL_ORDERING, help_text=ORDERING_HELP)

    conjoined_facets = frozenset({"therapy_class"})
    facet_paths = {
        "therapy_class": ("agents__agent_class",),
        "agent": ("agents__slug",),
        "platform": ("agents__platform",),
        "target": ("agents__targets__slug", "nk_products__targets__slug"),
        "nk_product": ("nk_products__slug",),
        "cd16_status": ("nk_products__cd16_status",),
        "phase": ("phase",),
        "status": ("status",),
        "condition": ("conditions__slug",),
    }

    class Meta:
        model = Trial
        fields = [
            "q",
            "therapy_class",
            "agent",
            "platform",
            "target",
            "nk_product",
            "cd16_status",
            "phase",
            "status",
            "condition",
        ]

    def filter_therapy_class(self, queryset, name, values):
        """Trials that combine every class asked for: therapy classes describe combinations.

        One subquery per distinct class: joining the agents once per class instead would
        multiply a trial's rows by its agents for every class asked, which with a few classes
        is enough to exhaust the database server's memory.
        """
        for value in dict.fromkeys(values):
            queryset = queryset.filter(pk__in=trials_where(therapy_class_condition([value])))
        return queryset

    def count_therapy_class(self, queryset) -> dict[str, int]:
        counts = facet_values(queryset, self.facet_paths["therapy_class"])
        counts[TherapyClass.NK_CELL_PRODUCT] = (
            queryset.filter(nk_products__isnull=False).distinct().count()
        )
        return counts

    def filter_target(self, queryset, name, targets):
        """A trial targets what its agents bind and what its NK cell products' CARs target."""
        if not targets:
            return queryset
        return queryset.filter(
            Q(pk__in=trials_where(Q(agents__targets__in=targets)))
            | Q(pk__in=trials_where(Q(nk_products__targets__in=targets)))
        )


def trials_where(condition: Q):
    """The ids of the trials that meet `condition`, as a subquery that adds no join outside it."""
    return Trial.objects.filter(condition).values("pk")


class ConditionFilterSet(SearchFilterSet):
    search_fields = ("name",)

    ordering = NullsLastOrderingFilter(fields=("name",), help_text=ORDERING_HELP)

    class Meta:
        model = Condition
        fields = ["q", "ordering"]
