from django.db.models import Q

from agents.choices import CD16Status
from agents.filtersets import ORDERING_HELP, platform_choices
from agents.models import Agent, NKCellProduct, Target
from nkkb.core.filtersets import (
    MultipleChoiceFilter,
    NullsLastOrderingFilter,
    SearchFilterSet,
    slug_filter,
)

from .choices import Phase, TherapyClass, TrialStatus
from .models import Condition, Trial, TrialAgent, therapy_class_rows
from .search import trials_matching_words

TRIAL_ORDERING = ("nct_id", "title", "phase", "status", "enrollment")


class TrialFilterSet(SearchFilterSet):
    """Filters for trials: one definition for the trial list page and the API."""

    search_description = (
        "Words, each of which must start a word of the NCT number or title, or appear in the "
        "name (or an alias) of one of its agents, NK cell products or conditions; "
        "case-insensitive."
    )
    search_fields = (
        "nct_id",
        "title",
        "agents__name",
        "agents__aliases",
        "nk_products__name",
        "conditions__name",
    )

    therapy_class = MultipleChoiceFilter(
        choices=TherapyClass.choices,
        method="filter_therapy_class",
        label="Therapy class",
        help_text=(
            "What the trial tests: the class of one of its agents, or nk-cell-product. Several "
            "values ask for trials that combine all of them (cytokine and nk-cell-product)."
        ),
    )
    agent = slug_filter(Agent, field_name="agents", label="Agent", help_text="Agent slug.")
    platform = MultipleChoiceFilter(
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
    cd16_status = MultipleChoiceFilter(
        field_name="nk_products__cd16_status",
        choices=CD16Status.choices,
        label="NK product CD16 status",
        help_text="CD16 status of one of its NK cell products.",
    )
    phase = MultipleChoiceFilter(
        choices=Phase.choices, label="Phase", help_text="Phase, by value: 2 is II, 1-2 is I/II."
    )
    status = MultipleChoiceFilter(
        choices=TrialStatus.choices, label="Status", help_text="ClinicalTrials.gov overall status."
    )
    condition = slug_filter(
        Condition, field_name="conditions", label="Condition", help_text="Condition slug."
    )
    ordering = NullsLastOrderingFilter(fields=TRIAL_ORDERING, help_text=ORDERING_HELP)

    conjoined_facets = frozenset({"therapy_class"})
    facet_paths = {
        "therapy_class": therapy_class_rows,
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

    def search(self, queryset, name, value):
        """`q`: words, each anywhere in the trial (see trials.search), through full-text indexes."""
        return self.search_words(queryset, value.split())

    @classmethod
    def search_words(cls, queryset, words):
        return trials_matching_words(queryset, words)

    def filter_therapy_class(self, queryset, name, values):
        """Trials that combine every class asked for: therapy classes describe combinations."""
        for value in dict.fromkeys(values):
            condition = Q(pk__in=[])
            for rows in therapy_class_rows(value):
                condition |= Q(pk__in=rows.values("facet_result"))
            queryset = queryset.filter(condition)
        return queryset

    def filter_target(self, queryset, name, targets):
        """A trial targets what its agents bind and what its NK cell products' CARs target."""
        if not targets:
            return queryset
        by_agents = TrialAgent.objects.filter(agent__targets__in=targets)
        by_products = Trial.nk_products.through.objects.filter(nkcellproduct__targets__in=targets)
        return queryset.filter(
            Q(pk__in=by_agents.values("trial_id")) | Q(pk__in=by_products.values("trial_id"))
        )


class ConditionFilterSet(SearchFilterSet):
    search_fields = ("name",)

    ordering = NullsLastOrderingFilter(fields=("name",), help_text=ORDERING_HELP)

    class Meta:
        model = Condition
        fields = ["q", "ordering"]
