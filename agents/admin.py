from django.contrib import admin

from nkkb.core.admin import (
    PROVENANCE_FIELDSET,
    RECORD_FIELDSET,
    CuratedAdmin,
    related_names,
    updated,
)

from .filtersets import AgentFilterSet, NKCellProductFilterSet, TargetFilterSet
from .models import Agent, NKCellProduct, Target


@admin.register(Target)
class TargetAdmin(CuratedAdmin):
    list_display = ("name", "kind", "source_section", "last_updated")
    filterset_class = TargetFilterSet
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = (
        (None, {"fields": ("name", "slug", "kind", "aliases", "description")}),
        PROVENANCE_FIELDSET,
        RECORD_FIELDSET,
    )


@admin.register(Agent)
class AgentAdmin(CuratedAdmin):
    list_display = (
        "name",
        "agent_class",
        "platform",
        related_names("targets", "Targets"),
        "acts_through_cd16",
        "approval_status",
        updated,
    )
    list_prefetch_related = ("targets",)
    filterset_class = AgentFilterSet
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("targets",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "slug",
                    "aliases",
                    "agent_class",
                    "platform",
                    "targets",
                    "mechanism",
                    "acts_through_cd16",
                    "approval_status",
                    "approval_note",
                )
            },
        ),
        PROVENANCE_FIELDSET,
        RECORD_FIELDSET,
    )


@admin.register(NKCellProduct)
class NKCellProductAdmin(CuratedAdmin):
    list_display = (
        "name",
        "source",
        "donor",
        "cd16_status",
        related_names("targets", "CAR targets"),
        updated,
    )
    list_prefetch_related = ("targets",)
    filterset_class = NKCellProductFilterSet
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("targets",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "slug",
                    "aliases",
                    "source",
                    "donor",
                    "cd16_status",
                    "targets",
                    "engineering",
                    "expansion",
                    "description",
                )
            },
        ),
        PROVENANCE_FIELDSET,
        RECORD_FIELDSET,
    )
