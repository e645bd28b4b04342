from collections import Counter

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.views.generic import TemplateView
from rest_framework.request import Request

from agents.choices import AgentClass
from agents.models import Agent, NKCellProduct, Target
from nkkb.core.charts import stacked_bars
from nkkb.core.facets import count_facets
from nkkb.core.knowledge_base import knowledge_base_counts
from nkkb.core.links import filtered_list_url
from nkkb.core.problems import ProblemsError
from nkkb.core.views import FilteredTableView, RecordDetailView
from registry.models import CandidateStatus, StudyCandidate
from registry.services import candidate_reject

from .api.serializers import TrialSerializer
from .best_known import NOT_STATED
from .choices import DiscrepancyKind, Phase, TherapyClass
from .discrepancies import DISCREPANCY_FIELDS, differing_trials, discrepancies
from .exports import trial_spreadsheet
from .filtersets import TrialFilterSet
from .models import Trial, condition_lineages, parse_nct_id
from .search import search_suggestions
from .services.candidates import candidate_accept
from .services.registry_values import ACCEPTABLE_FIELDS, registry_value_accept
from .side_by_side import side_by_side
from .tables import TrialTable


class TrialListView(FilteredTableView):
    model = Trial
    filterset_class = TrialFilterSet
    table_class = TrialTable
    template_name = "trials/trial_list.html"
    title = "Trials"
    search_placeholder = "NCT number, title, agent, target, condition"

    def get_queryset(self):
        """The table reads the relations its cells show for the trials whose cells it must
        render (TrialTable.read_relations); the export, the API's representation, reads every
        relation."""
        if self.request.GET.get(self.export_trigger_param):
            return Trial.objects.with_related()
        return Trial.objects.all()

    def export_rows(self):
        """The columns the API's CSV has too (trials.exports), from the same representation."""
        # The serializer reads a DRF request (its URLs absolute, as in the API).
        request = Request(self.request)
        trials = TrialSerializer(self.object_list, many=True, context={"request": request}).data
        return trial_spreadsheet(trials)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        words = self.request.GET.get("q", "").split()
        if words and not context["table"].paginator.count and not context["filter"].errors:
            context["suggestions"] = [
                {"word": suggestion, "url": _with_query(self.request.GET, suggestion)}
                for suggestion in search_suggestions(words)
            ]
        context["warning_choices"] = [
            ("", "Any"),
            ("true", "Has a compatibility warning"),
            ("false", "Has none"),
        ]
        return context


def _with_query(query, q: str) -> str:
    changed = query.copy()
    changed["q"] = q
    changed.pop("page", None)
    return f"?{changed.urlencode()}"


class TrialDetailView(RecordDetailView):
    queryset = Trial.objects.with_related()
    slug_field = "nct_id"
    slug_url_kwarg = "nct_id"

    def get(self, request, *args, **kwargs):
        try:
            nct_id = parse_nct_id(self.kwargs["nct_id"])
        except ValidationError as error:
            raise Http404(error.messages[0]) from None
        if nct_id != self.kwargs["nct_id"]:
            return redirect("trials:trial_detail", nct_id=nct_id, permanent=True)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["warnings"] = self.object.compatibility_warnings
        context["record"] = self.object.registry_record
        context["side_by_side"] = side_by_side(self.object)
        # Each condition with the groups above it, from one read of the tree.
        lineages = condition_lineages()
        context["conditions"] = [
            (condition, lineages[condition.pk][:-1]) for condition in self.object.conditions.all()
        ]
        return context


class LandscapeView(TemplateView):
    """What is combined with what: trials per target x therapy class and per product x class.

    Each cell is the count its link leads to, the trial list filtered by both: so the counts are
    the list's facet counts (the target and NK cell product facets of each class's trials).
    """

    template_name = "trials/landscape.html"
    query_parameters = ()

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
        # Targets are rows, so that every target shows however many there are; the classes,
        # a handful, are the columns.
        context["target_class"] = {
            "columns": list(TherapyClass),
            "rows": [
                {
                    "label": target.name,
                    "url": target.get_absolute_url(),
                    "cells": [
                        {
                            "count": class_target[therapy_class].get(target.slug, 0),
                            "url": filtered_list_url(
                                "trials:trial_list",
                                therapy_class=therapy_class.value,
                                target=target.slug,
                            ),
                        }
                        for therapy_class in TherapyClass
                    ],
                }
                for target in targets
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
                            "url": filtered_list_url(
                                "trials:trial_list",
                                nk_product=product.slug,
                                therapy_class=agent_class.value,
                            ),
                        }
                        for agent_class in AgentClass
                    ],
                }
                for product in products
            ],
        }
        context["matrices"] = [
            {
                "id": "target-class",
                "title": "Target × therapy class",
                "corner": "Target",
                "data": context["target_class"],
            },
            {
                "id": "product-class",
                "title": "NK cell product × agent class",
                "corner": "NK cell product",
                "data": context["product_class"],
            },
        ]
        return context


class HomeView(TemplateView):
    template_name = "home.html"
    query_parameters = ()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["counts"] = knowledge_base_counts()
        counts = trials_by_therapy_class_and_phase()
        context["therapy_class_counts"] = [
            (therapy_class, sum(n for (c, _), n in counts.items() if c == therapy_class))
            for therapy_class in TherapyClass
        ]
        context["chart"] = therapy_class_phase_chart(counts)
        context["recent_changes"] = recent_curator_changes()
        return context


RECENT_CHANGES = 10


def recent_curator_changes() -> list:
    """The latest edits curators made to trials, agents, NK cell products and targets."""
    changes = []
    for model in (Trial, Agent, NKCellProduct, Target):
        changes += model.history.filter(history_user__isnull=False).select_related("history_user")[
            :RECENT_CHANGES
        ]
    return sorted(changes, key=lambda change: change.history_date, reverse=True)[:RECENT_CHANGES]


def trials_by_therapy_class_and_phase() -> Counter:
    """{(therapy class, best-known phase or NOT_STATED): trials}: the trial list's phase facet
    for each class."""
    classes = TherapyClass.values
    phases_by_class = count_facets(
        TrialFilterSet, [("phase", {"therapy_class": [c]}) for c in classes]
    )
    counts = Counter()
    for therapy_class, phases in zip(classes, phases_by_class, strict=True):
        counts.update({(therapy_class, phase): trials for phase, trials in phases.items()})
    return +counts


def therapy_class_phase_chart(counts: Counter) -> dict:
    def segment_url(therapy_class, phase):
        return filtered_list_url("trials:trial_list", therapy_class=therapy_class, phase=phase)

    return stacked_bars(
        rows=list(TherapyClass.choices),
        series=[*Phase.choices, (NOT_STATED, "Phase not stated")],
        counts=counts,
        segment_url=segment_url,
    )


TRIALS_PER_PAGE = 50


class DiscrepancyListView(PermissionRequiredMixin, TemplateView):
    """For curators: where the registry differs from the curated data, filtered by kind, field
    or trial, each with links to the trial's page and admin form, and, where the curated field
    can take it, the registry's value to accept with a reason."""

    template_name = "trials/discrepancy_list.html"
    permission_required = "trials.change_trial"

    def get_context_data(self, **kwargs):
        """A page of the trials with a discrepancy of the kind and field asked for, found among
        the stored ones (trials.discrepancies.differing_trials), and their discrepancies:
        deriving every trial's on each visit ran past a request's time budget at registry
        scale."""
        context = super().get_context_data(**kwargs)
        query = self.request.GET
        kind, field = query.get("kind", ""), query.get("field", "")
        differing = differing_trials(kind=kind, field=field)
        if nct := query.get("nct", "").strip().upper():
            differing = differing.filter(nct_id__contains=nct)
        page = Paginator(differing.order_by("nct_id").values_list("pk", flat=True), TRIALS_PER_PAGE)
        page = page.get_page(query.get("page"))
        found = discrepancies(Trial.objects.filter(pk__in=list(page)))
        context["discrepancies"] = [
            d for d in found if (not kind or d.kind == kind) and (not field or d.field == field)
        ]
        context["page_obj"] = page
        context["kinds"] = DiscrepancyKind.choices
        context["fields"] = DISCREPANCY_FIELDS
        context["acceptable"] = ACCEPTABLE_FIELDS
        return context

    def post(self, request, *args, **kwargs):
        trial = Trial.objects.filter(nct_id=request.POST.get("nct_id", "")).first()
        if trial is None:
            messages.error(request, "No such trial.")
        else:
            try:
                registry_value_accept(
                    trial=trial,
                    field=request.POST.get("field", ""),
                    user=request.user,
                    reason=request.POST.get("reason", ""),
                )
            except ValidationError as error:
                messages.error(request, f"{trial.nct_id}: {' '.join(error.messages)}")
            else:
                messages.success(
                    request,
                    f"{trial.nct_id}: the registry's {request.POST['field']} is now the curated "
                    "value; the trial's history records who and why.",
                )
        return redirect(request.get_full_path())


class CandidateListView(PermissionRequiredMixin, TemplateView):
    """For curators: studies discovery found in the registry, to accept as trials (a curated
    trial with the registry record as provenance) or reject, each with a reason."""

    template_name = "trials/candidate_list.html"
    permission_required = ("trials.add_trial", "registry.change_studycandidate")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        status = self.request.GET.get("status") or CandidateStatus.OPEN
        context["status"] = status
        context["statuses"] = CandidateStatus.choices
        context["candidates"] = (
            StudyCandidate.objects.filter(status=status)
            .select_related("record", "decided_by")
            .prefetch_related("matched_agents", "matched_products")
            .order_by("-first_seen")
        )
        return context

    def post(self, request, *args, **kwargs):
        candidate = StudyCandidate.objects.filter(pk=request.POST.get("candidate") or 0).first()
        decide = {"accept": candidate_accept, "reject": candidate_reject}.get(
            request.POST.get("decision")
        )
        if candidate is None or decide is None:
            messages.error(request, "Choose a candidate and accept or reject it.")
            return redirect(request.get_full_path())
        try:
            decide(candidate=candidate, user=request.user, reason=request.POST.get("reason", ""))
        except ProblemsError as error:
            messages.error(request, " ".join(error.problems))
        else:
            messages.success(
                request, f"{candidate.record.nct_id}: {request.POST['decision']}ed, with reason."
            )
        return redirect(request.get_full_path())
