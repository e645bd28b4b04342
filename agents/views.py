from django.db.models import Prefetch
from django.views.generic import DetailView

from nkkb.views import FilteredTableView
from trials.compatibility import class_suitability
from trials.models import Trial

from .filtersets import AgentFilterSet, NKCellProductFilterSet, TargetFilterSet
from .models import Agent, NKCellProduct, Target
from .tables import AgentTable, NKCellProductTable, TargetTable

TRIALS = Prefetch("trials", queryset=Trial.objects.with_related())


class TargetListView(FilteredTableView):
    model = Target
    queryset = Target.objects.prefetch_related("agents")
    filterset_class = TargetFilterSet
    table_class = TargetTable
    title = "Targets"


class TargetDetailView(DetailView):
    queryset = Target.objects.prefetch_related(
        Prefetch("agents", queryset=Agent.objects.prefetch_related(TRIALS)),
        Prefetch("nk_products", queryset=NKCellProduct.objects.prefetch_related(TRIALS)),
    )


class AgentListView(FilteredTableView):
    model = Agent
    queryset = Agent.objects.prefetch_related("targets")
    filterset_class = AgentFilterSet
    table_class = AgentTable
    title = "Agents"


class AgentDetailView(DetailView):
    queryset = Agent.objects.prefetch_related("targets", TRIALS)


class NKCellProductListView(FilteredTableView):
    model = NKCellProduct
    queryset = NKCellProduct.objects.prefetch_related("targets")
    filterset_class = NKCellProductFilterSet
    table_class = NKCellProductTable
    title = "NK cell products"


class NKCellProductDetailView(DetailView):
    queryset = NKCellProduct.objects.prefetch_related("targets", TRIALS)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["suitability"] = class_suitability(self.object)
        return context
