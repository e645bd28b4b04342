from django.contrib import admin

from agents.admin import PROVENANCE_FIELDSET

from .models import Condition, Result, Trial, TrialAgent


class TrialAgentInline(admin.TabularInline):
    model = TrialAgent
    autocomplete_fields = ("agent",)
    extra = 0


class ResultInline(admin.StackedInline):
    model = Result
    extra = 0


@admin.register(Trial)
class TrialAdmin(admin.ModelAdmin):
    list_display = ("nct_id", "title", "phase", "status", "enrollment")
    list_filter = ("phase", "status", "agents__agent_class")
    search_fields = ("nct_id", "title", "agents__name", "conditions__name")
    autocomplete_fields = ("conditions", "nk_products")
    inlines = (TrialAgentInline, ResultInline)
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
    )


@admin.register(Condition)
class ConditionAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}
