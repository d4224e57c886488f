"""Admin for usage: the offers the value-added recommendation chooses from (editable, changes audited), and
the cycle's verdicts, choices and data-surge alerts to look at (written by the daily cycle only)."""

from django.contrib import admin

from onboard90.org.admin import AuditedAdmin
from onboard90.usage.models import Offer, OfferChoice, PackageFitVerdict, SurgeAlert


@admin.register(Offer)
class OfferAdmin(AuditedAdmin):
    list_display = ["code", "name", "kind", "price", "amount", "trigger_percent", "rank", "active"]
    list_display_links = ["code", "name"]
    list_filter = ["kind", "active"]
    search_fields = ["code", "name", "pitch"]


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PackageFitVerdict)
class PackageFitVerdictAdmin(_ReadOnly):
    list_display = ["customer", "verdict", "package", "recommended", "saving", "as_of"]
    list_filter = ["verdict", "as_of"]
    search_fields = ["customer__msisdn"]
    raw_id_fields = ["customer"]


@admin.register(OfferChoice)
class OfferChoiceAdmin(_ReadOnly):
    list_display = ["customer", "offer", "month", "made_at", "accepted_at", "taken_at"]
    list_filter = ["offer", "taken_via"]
    search_fields = ["customer__msisdn"]
    raw_id_fields = ["customer"]


@admin.register(SurgeAlert)
class SurgeAlertAdmin(_ReadOnly):
    list_display = [
        "customer", "bill_month", "kind", "percent", "day", "day_mb", "median_mb", "month_mb_after", "allowance_mb",
        "message", "created_at",
    ]
    list_filter = ["kind", "bill_month"]
    search_fields = ["customer__msisdn"]
    raw_id_fields = ["customer", "message"]
    list_select_related = ["customer", "message"]
