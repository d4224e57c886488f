"""Admin view of the audit log (append-only)."""

from django.contrib import admin

from onboard90.core.models import AuditEntry
from onboard90.journeys.admin import ReadOnlyAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "claimed_at", "actor_label", "verb", "object_type", "object_id"]
    list_filter = ["verb", "object_type"]
    search_fields = ["actor_label", "object_id"]
