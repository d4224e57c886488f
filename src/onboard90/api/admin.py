"""Admin views of the API's records: keys, webhook subscriptions, their events and the delivery log (read
only: the services write them, `onboard90 apikey` and `onboard90 webhooks` change them)."""

from django.contrib import admin

from onboard90.api.models import ApiKey, WebhookAttempt, WebhookEvent, WebhookSubscription
from onboard90.core.admin_base import ReadOnlyAdmin


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ["name", "prefix", "scope", "city", "unit", "created_at", "revoked_at", "last_used_at"]
    list_filter = ["scope", "city"]
    exclude = ["secret_hash"]


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["id", "account", "url", "event_types", "active", "created_at", "removed_at"]
    list_filter = ["active"]
    exclude = ["secret"]  # shown once when made; never on a page


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    fields = ["number", "at", "status_code", "ok", "error", "duration_ms"]
    readonly_fields = fields
    can_delete = False


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "event_type",
        "object_id",
        "subscription",
        "status",
        "attempts",
        "occurred_at",
        "next_attempt_at",
        "delivered_at",
        "last_error",
    ]
    list_filter = ["status", "event_type", "subscription"]
    search_fields = ["=id", "=object_id"]
    inlines = [WebhookAttemptInline]
    list_select_related = ["subscription__account"]


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(ReadOnlyAdmin):
    """The delivery log (投递记录): every attempt, filterable by outcome, answer, event type and subscription."""

    list_display = ["id", "event", "number", "at", "status_code", "ok", "error", "duration_ms"]
    list_filter = ["ok", "status_code", "event__event_type", "event__subscription"]
    search_fields = ["=event__id", "error"]
    date_hierarchy = "at"
    list_select_related = ["event"]
