"""Admin for the catalogue: packages, VIP tiers and the reference facts scripts quote (changes audited)."""

from django.contrib import admin

from onboard90.catalog.models import Package, ReferenceItem, VipTier
from onboard90.org.admin import AuditedAdmin


@admin.register(Package)
class PackageAdmin(AuditedAdmin):
    list_display = [
        "code", "name", "family", "product", "monthly_fee", "voice_min", "data_mb", "sms",
        "voice_rate", "data_rate", "sms_rate", "active",
    ]
    list_display_links = ["code", "name"]
    list_filter = ["family", "product", "active", "confidence"]
    search_fields = ["code", "name", "notes"]


@admin.register(VipTier)
class VipTierAdmin(AuditedAdmin):
    list_display = ["rank", "name", "code", "enabled", "min_avg_bill"]
    list_display_links = ["name"]
    list_filter = ["enabled"]
    search_fields = ["code", "name", "benefits"]


@admin.register(ReferenceItem)
class ReferenceItemAdmin(AuditedAdmin):
    list_display = ["kind", "rank", "name", "name_en", "identifier"]
    list_display_links = ["name"]
    list_filter = ["kind"]
    search_fields = ["code", "name", "name_en", "identifier", "detail"]
