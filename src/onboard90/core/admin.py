"""Admin view of the audit log (append-only): who, when, what, from where — readable and filterable by the
province administrator."""

from django.contrib import admin

from onboard90.core.admin_base import ReadOnlyAdmin
from onboard90.core.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor_label", "verb", "object_type", "object_id", "channel", "remote_addr", "claimed_at"]
    list_filter = ["verb", "object_type", "channel", ("at", admin.DateFieldListFilter)]
    search_fields = ["actor_label", "object_id", "remote_addr"]
    date_hierarchy = "at"
    list_select_related = ["actor"]
