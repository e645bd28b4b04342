from django.db.models import Prefetch
from django.views.generic import DetailView

from nkkb.facets import facet_count
from nkkb.views import FilteredTableView
from trials.compatibility import class_suitability
from trials.filtersets import TrialFilterSet
from trials.models import Trial

from .filtersets import AgentFilterSet, NKCellProductFilterSet, TargetFilterSet
from .models import Agent, NKCellProduct, Target
from .tables import AgentTable, NKCellProductTable, TargetTable

# A record's page lists its first trials and links to the trial list for all of them: an agent
# may be given in thousands of trials.
FIRST_TRIALS = 20


def first_trials() -> Prefetch:
    return Prefetch(
        "trials",
        queryset=Trial.objects.order_by("nct_id")[:FIRST_TRIALS],
        to_attr="first_trials",
    )


def count_trials(records, facet: str) -> None:
    """Give each record its `trial_count`: the trial list's count for it (`?<facet>=<slug>`)."""
    counts = facet_count(TrialFilterSet, facet, {})
    for record in records:
        record.trial_count = counts.get(record.slug, 0)


class TargetListView(FilteredTableView):
    model = Target
    queryset = Target.objects.prefetch_related("agents")
    filterset_class = TargetFilterSet
    table_class = TargetTable
    title = "Targets"


class TargetDetailView(DetailView):
    def get_queryset(self):
        return Target.objects.prefetch_related(
            Prefetch("agents", queryset=Agent.objects.prefetch_related(first_trials())),
            Prefetch(
                "nk_products", queryset=NKCellProduct.objects.prefetch_related(first_trials())
            ),
        )

    def get_context_data(self, **kwargs):
        count_trials([self.object], "target")
        count_trials(self.object.agents.all(), "agent")
        count_trials(self.object.nk_products.all(), "nk_product")
        return super().get_context_data(**kwargs)


class AgentListView(FilteredTableView):
    model = Agent
    queryset = Agent.objects.prefetch_related("targets")
    filterset_class = AgentFilterSet
    table_class = AgentTable
    title = "Agents"


class AgentDetailView(DetailView):
    def get_queryset(self):
        return Agent.objects.prefetch_related("targets", first_trials())

    def get_context_data(self, **kwargs):
        count_trials([self.object], "agent")
        return super().get_context_data(**kwargs)


class NKCellProductListView(FilteredTableView):
    model = NKCellProduct
    queryset = NKCellProduct.objects.prefetch_related("targets")
    filterset_class = NKCellProductFilterSet
    table_class = NKCellProductTable
    title = "NK cell products"


class NKCellProductDetailView(DetailView):
    def get_queryset(self):
        return NKCellProduct.objects.prefetch_related("targets", first_trials())

    def get_context_data(self, **kwargs):
        count_trials([self.object], "nk_product")
        context = super().get_context_data(**kwargs)
        context["suitability"] = class_suitability(self.object)
        return context
