from collections import Counter

from django.urls import reverse
from django.utils.http import urlencode
from django.views.generic import TemplateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin
from django_tables2.export import ExportMixin

from agents.models import Agent, NKCellProduct, Target
from trials.choices import Phase, TherapyClass
from trials.filtersets import TrialFilterSet
from trials.models import Trial
from trials.services import knowledge_base_counts

from .charts import stacked_bars
from .facets import count_facets
from .tables import MAX_EXPORT_ROWS


class FilteredTableView(ExportMixin, SingleTableMixin, FilterView):
    """A list page: its model's FilterSet narrows it, a table sorts and pages it, CSV exports it.

    An invalid filter value leaves the list empty and the form says what was wrong.
    """

    template_name = "object_list.html"
    export_formats = ("csv",)
    export_trigger_param = "export"
    title = ""

    def get_export_filename(self, export_format):
        return f"nkkb-{self.model._meta.model_name}s.{export_format}"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["title"] = self.title
        query = self.request.GET.copy()
        query[self.export_trigger_param] = "csv"
        context["export_query"] = query.urlencode()
        context["max_export_rows"] = MAX_EXPORT_ROWS
        return context

    def render_to_response(self, context, **kwargs):
        """A selection too large to export gets its page back (400) saying so, not a file."""
        export_requested = self.request.GET.get(self.export_trigger_param)
        if export_requested and context["table"].paginator.count > MAX_EXPORT_ROWS:
            context["export_refused"] = True
            return super(ExportMixin, self).render_to_response(context, status=400, **kwargs)
        return super().render_to_response(context, **kwargs)


class HomeView(TemplateView):
    template_name = "home.html"

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


NOT_STATED = "not-stated"


def trials_by_therapy_class_and_phase() -> Counter:
    """{(therapy class, phase or NOT_STATED): trials}: the trial list's phase facet for each
    class, and its class facet for the trials whose phase is not stated."""
    classes = TherapyClass.values
    totals, *phases_by_class = count_facets(
        TrialFilterSet,
        [("therapy_class", {})] + [("phase", {"therapy_class": [c]}) for c in classes],
    )
    counts = Counter()
    for therapy_class, phases in zip(classes, phases_by_class, strict=True):
        counts.update({(therapy_class, phase): trials for phase, trials in phases.items()})
        counts[(therapy_class, NOT_STATED)] = totals.get(therapy_class, 0) - sum(phases.values())
    return +counts


def therapy_class_phase_chart(counts: Counter) -> dict:
    def segment_url(therapy_class, phase):
        query = {"therapy_class": therapy_class}
        if phase != NOT_STATED:
            query["phase"] = phase
        return f"{reverse('trials:trial_list')}?{urlencode(query)}"

    return stacked_bars(
        rows=list(TherapyClass.choices),
        series=[*Phase.choices, (NOT_STATED, "Phase not stated")],
        counts=counts,
        segment_url=segment_url,
    )
