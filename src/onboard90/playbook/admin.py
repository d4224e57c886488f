"""Admin for playbook versions: a list and a read-only view; publishing goes through `playbook load`."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from onboard90.playbook.models import PlaybookVersion


@admin.register(PlaybookVersion)
class PlaybookVersionAdmin(admin.ModelAdmin):
    list_display = ["number", "name", "published_at", "published_by"]
    list_display_links = ["number", "name"]
    list_select_related = ["published_by"]
    search_fields = ["name", "source", "checksum"]
    date_hierarchy = "published_at"
    fields = ["number", "name", "published_at", "published_by", "source", "checksum", "document_pretty"]
    readonly_fields = fields

    # Versions are immutable records that journeys point at: editing one in place would change the
    # plan under running journeys, and creating one here would skip validation and the audit log.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=PlaybookVersion._meta.get_field("document").verbose_name)
    def document_pretty(self, obj: PlaybookVersion) -> str:
        text = json.dumps(obj.document, ensure_ascii=False, indent=2)
        return format_html(
            '<pre style="white-space: pre-wrap; max-height: 60em; overflow: auto">{}</pre>', text
        )
