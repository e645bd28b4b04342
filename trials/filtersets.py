from functools import reduce
from operator import or_

import django_filters
from django.db.models import F, OuterRef, Q, QuerySet, Subquery

from agents.choices import CD16Status
from agents.filtersets import ORDERING_HELP, platform_choices
from agents.models import Agent, NKCellProduct, Target
from nkkb.core.caching import data_version
from nkkb.core.facets import IndexedSelectionMixin, facet_index
from nkkb.core.filtersets import (
    IntegerRangeFilter,
    MultipleChoiceFilter,
    NullsLastOrderingFilter,
    SearchFilterSet,
    choices_read_from,
    no_value,
    slug_filter,
)
from nkkb.core.stored_facets import StoredFacetRows, having
from registry.choices import OverallStatus
from registry.models import RegistryRecord

from . import best_known
from .choices import Phase, TherapyClass
from .models import (
    Condition,
    Trial,
    TrialAgent,
    condition_depth,
    condition_lineages,
    condition_rows,
    subtree_ids,
    therapy_class_rows,
    touched_trials,
)
from .search import trials_matching_words
from .stored_facets import COUNTRIES, PHASES, STATUSES, STORED_FACETS

NOT_STATED = (best_known.NOT_STATED, best_known.NOT_STATED_LABEL)
KNOWN_VALUE_HELP = (
    " The best-known value: the curators' where they state one, else the registry's; "
    f"`{best_known.NOT_STATED}` for trials neither states."
)


def indexed_choices(facet: str):
    """The choices of a facet whose options are whatever the trials hold (lead sponsors,
    countries), by name case-insensitively: read from the facet index, as the facet panel
    counts them, not from every registry record on each request. They read no model but the
    index (`choices_read_from` none): where a write changed none of a page's counts, it
    changed none of the options the page shows."""

    @choices_read_from()
    def choices():
        options = facet_index(TrialFilterSet, facet, data_version()[0])
        return [(name, name) for name in sorted(options, key=str.casefold)]

    return choices


CONDITION_PATH_SEPARATOR = " > "


@choices_read_from(Condition)
def condition_choices():
    """(slug, "Group > Subgroup > Condition") of every condition, each group followed by the
    conditions below it (siblings by name, case-insensitively): the hierarchy, in the facet
    panel, the applied filters and the admin's filter alike."""
    lineages = condition_lineages().values()
    ordered = sorted(lineages, key=lambda lineage: [c.name.casefold() for c in lineage])
    return [
        (lineage[-1].slug, CONDITION_PATH_SEPARATOR.join(c.name for c in lineage))
        for lineage in ordered
    ]


class SponsorRows:
    """(lead sponsor, trial id) rows of the trials whose registry record names a sponsor."""

    def __call__(self) -> list[QuerySet]:
        # Each record looks up its trial by NCT number (a unique index): `nct_id IN (every
        # trial's NCT number)` read every trial to keep the few records that have one
        # (BENCHMARKS.md).
        trial = Trial.objects.order_by().filter(nct_id=OuterRef("nct_id")).values("pk")
        return [
            RegistryRecord.objects.exclude(lead_sponsor=None)
            .alias(trial_id=Subquery(trial))
            .exclude(trial_id=None)
            .values(facet_value=F("lead_sponsor"), facet_result=F("trial_id"))
        ]

    def restricted(self, ids: list[int]) -> list[QuerySet]:
        """The rows of the trials `ids`, each trial's record looked up by its NCT number: the
        rows above narrowed to a few trials still read every record."""
        sponsor = RegistryRecord.objects.filter(nct_id=OuterRef("nct_id")).values("lead_sponsor")
        return [
            Trial.objects.filter(pk__in_ids=ids)
            .alias(sponsor=Subquery(sponsor))
            .exclude(sponsor=None)
            .values(facet_value=F("sponsor"), facet_result=F("pk"))
        ]


sponsor_rows = SponsorRows()


class ConditionRows:
    """(condition slug, trial id) rows of every trial, under each group above its conditions
    too (trials.models.condition_rows)."""

    def __call__(self) -> list[QuerySet]:
        return condition_rows()

    def shape(self) -> int:
        """What the rows' SQL depends on in the data: a queryset per level of the tree."""
        return condition_depth()


condition_facet_rows = ConditionRows()


TRIAL_ORDERING = ("nct_id", "title", "phase", "status", "enrollment")


class TrialFilterSet(IndexedSelectionMixin, SearchFilterSet):
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
        choices=[*Phase.choices, NOT_STATED],
        method="filter_known",
        label="Phase",
        help_text="Phase, by value: 2 is II, 1-2 is I/II." + KNOWN_VALUE_HELP,
    )
    status = MultipleChoiceFilter(
        choices=[*OverallStatus.choices, NOT_STATED],
        method="filter_known",
        label="Status",
        help_text="ClinicalTrials.gov overall status." + KNOWN_VALUE_HELP,
    )
    sponsor = MultipleChoiceFilter(
        choices=indexed_choices("sponsor"),
        method="filter_sponsor",
        label="Lead sponsor",
        help_text="The lead sponsor the registry names.",
    )
    country = MultipleChoiceFilter(
        choices=indexed_choices("country"),
        method="filter_country",
        label="Country",
        help_text="A country where the registry lists a site.",
    )
    start_year = IntegerRangeFilter(
        method="filter_known_range",
        label="Start year",
        help_text="`start_year_min`, `start_year_max`: the best-known start year, inclusive.",
    )
    completion_year = IntegerRangeFilter(
        method="filter_completion_year",
        label="Completion year",
        help_text="`completion_year_min`, `completion_year_max`: the registry's completion date.",
    )
    enrollment = IntegerRangeFilter(
        method="filter_known_range",
        label="Enrollment",
        help_text="`enrollment_min`, `enrollment_max`: the best-known enrollment, inclusive.",
    )
    recruiting = django_filters.BooleanFilter(
        method="filter_recruiting",
        label="Recruiting now",
        help_text="Whether its best-known status is recruiting or enrolling by invitation.",
    )
    has_registry_record = django_filters.BooleanFilter(
        method="filter_has_registry_record",
        label="Has a registry record",
        help_text="Whether NKKB has read what the registry says about it.",
    )
    has_discrepancy = django_filters.BooleanFilter(
        method="filter_has_discrepancy",
        label="Registry and curators differ",
        help_text="Whether its registry record differs from what curators state.",
    )
    has_warning = django_filters.BooleanFilter(
        method="filter_has_warning",
        label="Has a compatibility warning",
        help_text=(
            "Whether the compatibility rules warn about one of its agent x NK cell product "
            "pairs (a warning or caveat; an unrecorded CD16 dependence is not one)."
        ),
    )
    condition = MultipleChoiceFilter(
        choices=condition_choices,
        method="filter_condition",
        label="Condition",
        help_text=(
            "Condition slug: trials filed under it or under any condition below it "
            "(`lymphoma` finds the non-Hodgkin and Hodgkin lymphoma trials)."
        ),
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
        "phase": StoredFacetRows(PHASES),
        "status": StoredFacetRows(STATUSES),
        "sponsor": sponsor_rows,
        "country": StoredFacetRows(COUNTRIES),
        "condition": condition_facet_rows,
    }

    touched_results = staticmethod(touched_trials)
    # The facet whose options' lists the home page links to: a worker renders each of them
    # before its first visitor, as it renders the unfiltered list (nkkb.core.views).
    browsed_by = "therapy_class"
    # Filters whose trials code derives, kept in the database (nkkb.core.stored_facets).
    stored_facets = STORED_FACETS

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
            "sponsor",
            "country",
            "start_year",
            "completion_year",
            "enrollment",
            "recruiting",
            "has_registry_record",
            "has_discrepancy",
            "has_warning",
        ]

    def search(self, queryset, name, value):
        """`q`: words, each anywhere in the trial (see trials.search), through full-text indexes."""
        return self.search_words(queryset, value.split())

    @classmethod
    def search_words(cls, queryset, words):
        return trials_matching_words(queryset, words, cls)

    def filter_therapy_class(self, queryset, name, values):
        """Trials that combine every class asked for: therapy classes describe combinations."""
        for value in dict.fromkeys(values):
            condition = Q(pk__in=[])
            for rows in therapy_class_rows(value):
                condition |= Q(pk__in=rows.values("facet_result"))
            queryset = queryset.filter(condition)
        return queryset

    def filter_condition(self, queryset, name, slugs):
        """Trials filed under one of the conditions or under a condition below it."""
        condition = Q(pk__in=[])
        for rows in condition_rows(slugs):
            condition |= Q(pk__in=rows.values("facet_result"))
        return queryset.filter(condition)

    def filter_known(self, queryset, name, values):
        """Phase and status: the best-known value (trials.best_known) is one of `values`."""
        condition = {"phase": best_known.phase_condition, "status": best_known.status_condition}
        return queryset.filter(reduce(or_, (condition[name](value) for value in values)))

    def filter_known_range(self, queryset, name, bounds):
        condition = {
            "start_year": best_known.start_year_condition,
            "enrollment": best_known.enrollment_condition,
        }
        return queryset.filter(condition[name](low=bounds.start, high=bounds.stop))

    # `value: <type>` is how drf-spectacular learns the type of a filter with a method.
    def filter_completion_year(self, queryset, name, value: int):
        dates = Q(completion_date__isnull=False)
        if value.start is not None:
            dates &= Q(completion_date__gte=f"{value.start:04d}")
        if value.stop is not None:
            dates &= Q(completion_date__lt=f"{value.stop + 1:04d}")
        return queryset.filter(best_known.recorded(dates))

    def filter_sponsor(self, queryset, name, value: str):
        return queryset.filter(best_known.recorded(Q(lead_sponsor__in=value)))

    def filter_country(self, queryset, name, value: str):
        return queryset.filter(having(COUNTRIES, value))

    def filter_recruiting(self, queryset, name, recruiting):
        condition = having(STATUSES, best_known.RECRUITING_NOW)
        return queryset.filter(condition if recruiting else ~condition)

    def filter_has_registry_record(self, queryset, name, has_record):
        condition = best_known.recorded(Q())
        return queryset.filter(condition if has_record else ~condition)

    def filter_has_discrepancy(self, queryset, name, has_discrepancy):
        return self._filter_stored(queryset, name, has_discrepancy)

    def filter_has_warning(self, queryset, name, has_warning):
        return self._filter_stored(queryset, name, has_warning)

    def _filter_stored(self, queryset, name, present: bool):
        found = having(self.stored_facets[name])
        return queryset.filter(found if present else ~found)

    def filter_target(self, queryset, name, targets):
        """A trial targets what its agents bind and what its NK cell products' CARs target."""
        if no_value(targets):
            return queryset
        by_agents = TrialAgent.objects.filter(agent__targets__in=targets)
        by_products = Trial.nk_products.through.objects.filter(nkcellproduct__targets__in=targets)
        return queryset.filter(
            Q(pk__in=by_agents.values("trial_id")) | Q(pk__in=by_products.values("trial_id"))
        )


class ConditionFilterSet(SearchFilterSet):
    search_fields = ("name",)

    parent = slug_filter(
        Condition,
        field_name="parent",
        label="Parent",
        help_text="Condition slug: the conditions directly below it.",
    )
    ancestor = slug_filter(
        Condition,
        method="filter_ancestor",
        label="Below",
        help_text="Condition slug: every condition below it, at any depth (not itself).",
    )
    ordering = NullsLastOrderingFilter(fields=("name",), help_text=ORDERING_HELP)

    class Meta:
        model = Condition
        fields = ["q", "parent", "ancestor", "ordering"]

    def filter_ancestor(self, queryset, name, conditions):
        if not conditions:
            return queryset
        above = {condition.pk for condition in conditions}
        return queryset.filter(pk__in=subtree_ids(above) - above)
