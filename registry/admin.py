from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import RegistryRecord, StudyCandidate


@admin.register(RegistryRecord)
class RegistryRecordAdmin(SimpleHistoryAdmin):
    """Registry records are what a source said: read here, written only by the loaders."""

    list_display = (
        "nct_id",
        "overall_status",
        "phases",
        "enrollment",
        "enrollment_type",
        "source_kind",
        "source_name",
        "as_of",
    )
    list_filter = ("overall_status", "source_kind")
    search_fields = ("nct_id",)
    ordering = ("nct_id",)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(StudyCandidate)
class StudyCandidateAdmin(SimpleHistoryAdmin):
    """Candidates are what discovery found: listed here read-only; curators decide through
    the triage workflow (trials.services.candidates, registry.services.candidate_reject)."""

    list_display = ("record", "status", "first_seen", "decided_by", "decided_at")
    list_filter = ("status", "first_seen")
    search_fields = ("record__nct_id", "record__brief_title")
    list_select_related = ("record", "decided_by")
    ordering = ("-first_seen",)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.get_fields() if field.concrete]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
