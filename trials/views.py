import re

from django import forms
from django.http import Http404
from django.urls import reverse
from django.utils.http import urlencode
from django.views.generic import DetailView, TemplateView

from agents.choices import AgentClass
from agents.models import Agent, NKCellProduct, Target
from nkkb.facets import count_facets, facet_counts
from nkkb.views import FilteredTableView

from .choices import TherapyClass
from .compatibility import pair_warnings, trial_warnings
from .filtersets import TrialFilterSet
from .models import NCT_ID_PATTERN, Trial
from .tables import TrialTable


class TrialListView(FilteredTableView):
    model = Trial
    queryset = Trial.objects.with_related()
    filterset_class = TrialFilterSet
    table_class = TrialTable
    template_name = "trials/trial_list.html"
    title = "Trials"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["facets"] = facet_panel(context["filter"])
        return context


def facet_panel(filterset) -> list[dict]:
    """Each facet filter with its options, their counts and whether they are selected."""
    counts = facet_counts(filterset)
    panel = []
    for name, option_counts in counts.items():
        field = filterset.form.fields[name]
        selected = set(filterset.data.getlist(name))
        options = [
            {
                "value": value,
                "label": label,
                "count": option_counts.get(value, 0),
                "selected": value in selected,
            }
            for value, label in facet_choices(field)
        ]
        panel.append(
            {
                "name": name,
                "label": field.label,
                "options": [o for o in options if o["count"] or o["selected"]],
            }
        )
    return panel


def facet_choices(field):
    if hasattr(field, "queryset"):
        return [(obj.slug, str(obj)) for obj in field.queryset]
    return [(value, label) for value, label in field.choices if value != ""]


class TrialDetailView(DetailView):
    queryset = Trial.objects.with_related()
    slug_field = "nct_id"
    slug_url_kwarg = "nct_id"

    def get_object(self, queryset=None):
        nct_id = self.kwargs["nct_id"]
        if not re.fullmatch(NCT_ID_PATTERN, nct_id):
            raise Http404(
                f"{nct_id!r} is not an NCT number: it should be NCT followed by 8 digits."
            )
        try:
            return super().get_object(queryset)
        except Http404:
            raise Http404(f"NKKB has no trial {nct_id}.") from None

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["warnings"] = trial_warnings(self.object)
        return context


def trial_list_url(**filters) -> str:
    return f"{reverse('trials:trial_list')}?{urlencode(filters)}"


class LandscapeView(TemplateView):
    """What is combined with what: trials per therapy class x target and per product x class.

    Each cell is the count its link leads to, the trial list filtered by both: so the counts are
    the list's facet counts (the target and NK cell product facets of each class's trials).
    """

    template_name = "trials/landscape.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        requests = [("target", c) for c in TherapyClass.values]
        requests += [("nk_product", c) for c in AgentClass.values]
        counts = count_facets(
            TrialFilterSet, [(facet, {"therapy_class": [c]}) for facet, c in requests]
        )
        class_target, product_class = {}, {}
        for (facet, therapy_class), option_counts in zip(requests, counts, strict=True):
            (class_target if facet == "target" else product_class)[therapy_class] = option_counts
        counted_targets = set().union(*class_target.values())
        counted_products = set().union(*product_class.values())
        targets = [t for t in Target.objects.all() if t.slug in counted_targets]
        products = [p for p in NKCellProduct.objects.all() if p.slug in counted_products]
        context["class_target"] = {
            "columns": targets,
            "rows": [
                {
                    "label": therapy_class.label,
                    "cells": [
                        {
                            "count": class_target[therapy_class].get(t.slug, 0),
                            "url": trial_list_url(therapy_class=therapy_class.value, target=t.slug),
                        }
                        for t in targets
                    ],
                }
                for therapy_class in TherapyClass
            ],
        }
        context["product_class"] = {
            "columns": list(AgentClass),
            "rows": [
                {
                    "label": product.name,
                    "url": product.get_absolute_url(),
                    "cells": [
                        {
                            "count": product_class[agent_class].get(product.slug, 0),
                            "url": trial_list_url(
                                nk_product=product.slug, therapy_class=agent_class.value
                            ),
                        }
                        for agent_class in AgentClass
                    ],
                }
                for product in products
            ],
        }
        return context


class CompatibilityForm(forms.Form):
    agent = forms.ModelChoiceField(Agent.objects.all(), to_field_name="slug")
    product = forms.ModelChoiceField(
        NKCellProduct.objects.all(), to_field_name="slug", label="NK cell product"
    )


class CompatibilityView(TemplateView):
    """Check any agent x NK cell product pair against the compatibility rules."""

    template_name = "trials/compatibility.html"

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
