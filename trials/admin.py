from django.contrib import admin
from django.db.models import Prefetch

from nkkb.core.admin import (
    PROVENANCE_FIELDSET,
    RECORD_FIELDSET,
    CuratedAdmin,
    CuratedStackedInline,
    CuratedTabularInline,
    related_names,
    updated,
)

from .filtersets import ConditionFilterSet, TrialFilterSet
from .models import Caveat, Condition, Result, Trial, TrialAgent
from .services.candidates import REVIEW_PROVENANCE_FIELDS, registry_trial_ids

RESULT_FIELDS = (
    "metric",
    "value",
    "unit",
    "value_qualifier",
    "denominator",
    "population",
    "timepoint",
)


class TrialAgentInline(CuratedTabularInline):
    model = TrialAgent
    fields = ("agent", "role", "detail")
    autocomplete_fields = ("agent",)


class ResultInline(CuratedStackedInline):
    """One block per result: a figure, what it counts, and where the review gives it."""

    model = Result
    fields = (
        ("metric", "value", "unit"),
        ("value_qualifier", "denominator"),
        ("population", "timepoint"),
        *PROVENANCE_FIELDSET[1]["fields"],
    )


class CaveatInline(CuratedStackedInline):
    """Curators' readings of ambiguous passages, each beside the part of the trial it qualifies
    on the public page."""

    model = Caveat
    fields = (("qualifies", "agent"), "text", *PROVENANCE_FIELDSET[1]["fields"])
    autocomplete_fields = ("agent",)


@admin.register(Trial)
class TrialAdmin(CuratedAdmin):
    list_display = (
        "nct_id",
        "title",
        "phase",
        "status",
        "enrollment",
        "therapy_class",
        related_names("conditions", "Conditions"),
        updated,
    )
    list_prefetch_related = (
        Prefetch("trial_agents", queryset=TrialAgent.objects.select_related("agent")),
        "nk_products",
        "conditions",
    )
    filterset_class = TrialFilterSet
    autocomplete_fields = ("conditions", "nk_products")
    inlines = (TrialAgentInline, ResultInline, CaveatInline)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "nct_id",
                    "title",
                    "phase",
                    "status",
                    "status_note",
                    "start_year",
                    "enrollment",
                    "conditions",
                    "nk_products",
                )
            },
        ),
        PROVENANCE_FIELDSET,
        RECORD_FIELDSET,
    )

    @admin.display(description="Therapy classes")
    def therapy_class(self, trial):
        return ", ".join(choice.label for choice in trial.therapy_class_choices)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if obj is not None and registry_trial_ids().filter(id=obj.pk).exists():
            # Imported from ClinicalTrials.gov: there is no review section or quote to give.
            for name in REVIEW_PROVENANCE_FIELDS:
                form.base_fields[name].required = False
        return form


@admin.register(Condition)
class ConditionAdmin(CuratedAdmin):
    """A condition and its place in the hierarchy, with what that place rests on."""

    list_display = ("name", "parent", "placement_basis", "slug")
    list_select_related = ("parent",)
    filterset_class = ConditionFilterSet
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("parent",)
    fieldsets = (
        (None, {"fields": ("name", "slug", "parent", "version")}),
        (
            "What its place rests on",
            {
                "fields": (
                    "placement_basis",
                    *PROVENANCE_FIELDSET[1]["fields"],
                    "classification",
                )
            },
        ),
    )


class TrialPartAdmin(CuratedAdmin):
    """A record that belongs to one trial: its public page is the trial's."""

    list_select_related = ("trial",)
    autocomplete_fields = ("trial",)

    def view_on_site(self, obj):
        return obj.trial.get_absolute_url()


@admin.register(TrialAgent)
class TrialAgentAdmin(TrialPartAdmin):
    list_display = ("trial", "agent", "role", "detail")
    list_select_related = ("trial", "agent")
    list_filter = ("role",)
    search_fields = ("trial__nct_id", "agent__name")
    autocomplete_fields = ("trial", "agent")


@admin.register(Result)
class ResultAdmin(TrialPartAdmin):
    list_display = ("trial", "metric", "display_value", "population", "last_updated")
    list_filter = ("metric", "unit")
    search_fields = ("trial__nct_id", "population")
    fieldsets = (
        (None, {"fields": ("trial", *RESULT_FIELDS)}),
        PROVENANCE_FIELDSET,
        RECORD_FIELDSET,
    )
