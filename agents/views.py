from django import forms
from django.db.models import Prefetch
from django.db.models.functions import Lower
from django.views.generic import TemplateView

from nkkb.core.facets import annotate_record_counts, record_facet
from nkkb.core.views import FilteredTableView, RecordDetailView

from .compatibility import class_suitability, pair_warnings
from .filtersets import AgentFilterSet, NKCellProductFilterSet, TargetFilterSet
from .models import Agent, NKCellProduct, Target
from .tables import AgentTable, NKCellProductTable, TargetTable

# A record's page lists its first trials and links to the trial list for all of them: an agent
# may be given in thousands of trials.
FIRST_LISTED = 20


def first_listed(model) -> Prefetch:
    """The first records of the list registered for `model`'s records (its trials), as
    `first_listed` of each record."""
    facet = record_facet(model)
    listed = facet.filterset_class._meta.model
    return Prefetch(
        facet.related_name, queryset=listed.objects.all()[:FIRST_LISTED], to_attr="first_listed"
    )


class TargetListView(FilteredTableView):
    model = Target
    queryset = Target.objects.prefetch_related("agents").order_by(Lower("name"))
    filterset_class = TargetFilterSet
    table_class = TargetTable
    title = "Targets"
    search_placeholder = "Name, alias, description"


class TargetDetailView(RecordDetailView):
    def get_queryset(self):
        return Target.objects.prefetch_related(
            Prefetch("agents", queryset=Agent.objects.prefetch_related(first_listed(Agent))),
            Prefetch(
                "nk_products",
                queryset=NKCellProduct.objects.prefetch_related(first_listed(NKCellProduct)),
            ),
        )

    def get_context_data(self, **kwargs):
        annotate_record_counts([self.object])
        annotate_record_counts(self.object.agents.all())
        annotate_record_counts(self.object.nk_products.all())
        return super().get_context_data(**kwargs)


class AgentListView(FilteredTableView):
    model = Agent
    queryset = Agent.objects.prefetch_related("targets").order_by(Lower("name"))
    filterset_class = AgentFilterSet
    table_class = AgentTable
    title = "Agents"
    search_placeholder = "Name, alias, platform, mechanism, target"


class AgentDetailView(RecordDetailView):
    def get_queryset(self):
        return Agent.objects.prefetch_related("targets", first_listed(Agent))

    def get_context_data(self, **kwargs):
        annotate_record_counts([self.object])
        return super().get_context_data(**kwargs)


class NKCellProductListView(FilteredTableView):
    model = NKCellProduct
    queryset = NKCellProduct.objects.prefetch_related("targets").order_by(Lower("name"))
    filterset_class = NKCellProductFilterSet
    table_class = NKCellProductTable
    title = "NK cell products"
    search_placeholder = "Name, alias, engineering, expansion, CAR target"


class NKCellProductDetailView(RecordDetailView):
    def get_queryset(self):
        return NKCellProduct.objects.prefetch_related("targets", first_listed(NKCellProduct))

    def get_context_data(self, **kwargs):
        annotate_record_counts([self.object])
        context = super().get_context_data(**kwargs)
        context["suitability"] = class_suitability(self.object)
        return context


class CompatibilityForm(forms.Form):
    agent = forms.ModelChoiceField(Agent.objects.all(), to_field_name="slug")
    product = forms.ModelChoiceField(
        NKCellProduct.objects.all(), to_field_name="slug", label="NK cell product"
    )


class CompatibilityView(TemplateView):
    """Check any agent x NK cell product pair against the compatibility rules."""

    template_name = "agents/compatibility.html"
    query_parameters = ("agent", "product")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = CompatibilityForm(self.request.GET or None)
        context["form"] = form
        if form.is_valid():
            agent, product = form.cleaned_data["agent"], form.cleaned_data["product"]
            context["checked"] = {
                "agent": agent,
                "product": product,
                "warnings": pair_warnings(agent, product),
            }
        return context
