"""Admin view of the SMS outbox (read-only: the cycle queues, the dispatcher sends)."""

from django.contrib import admin

from onboard90.core.admin_base import ReadOnlyAdmin
from onboard90.messaging.models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "customer", "message_class", "status", "scheduled_at", "sent_at", "segments"]
    list_filter = ["status", "message_class", "action__action_code"]
    search_fields = ["msisdn"]
    list_select_related = ["customer"]
