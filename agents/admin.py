from django.contrib import admin

from .models import Agent, NKCellProduct, Target

PROVENANCE_FIELDSET = (
    "Provenance in the review",
    {"fields": ("source_section", "source_references", "source_quote", "source_summary")},
)


@admin.register(Target)
class TargetAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "source_section")
    list_filter = ("kind",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = (
        (None, {"fields": ("name", "slug", "kind", "aliases", "description")}),
        PROVENANCE_FIELDSET,
    )


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ("name", "agent_class", "platform", "acts_through_cd16", "approval_status")
    list_filter = ("agent_class", "platform", "acts_through_cd16", "approval_status")
    search_fields = ("name", "slug")
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
    )


@admin.register(NKCellProduct)
class NKCellProductAdmin(admin.ModelAdmin):
    list_display = ("name", "source", "donor", "cd16_status")
    list_filter = ("source", "donor", "cd16_status")
    search_fields = ("name", "slug")
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
    )
