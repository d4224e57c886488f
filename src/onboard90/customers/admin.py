"""Admin for customers, their events and bills: numbers masked in lists; opening a customer is audited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from onboard90.core.services import audit_record
from onboard90.customers.models import Bill, Customer, CustomerEvent


def _mask(msisdn: str) -> str:
    return f"{msisdn[:3]}****{msisdn[-4:]}" if len(msisdn) == 11 else msisdn


class VipFilter(admin.SimpleListFilter):
    title = _("VIP")
    parameter_name = "vip"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("VIP客户")), ("no", _("普通客户"))]

    def queryset(self, request: Any, queryset: Any) -> Any:
        if self.value() == "yes":
            return queryset.filter(vip_tier__isnull=False)
        if self.value() == "no":
            return queryset.filter(vip_tier__isnull=True)
        return queryset


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("masked", "city", "store", "product", "package", "vip_tier", "activated_on", "status")
    list_filter = ("city", "product", VipFilter, "vip_tier", "status", "number_changed")
    list_select_related = ("city", "store", "package", "vip_tier")
    search_fields = ("=msisdn",)  # exact number only: no browsing by fragments of personal data
    date_hierarchy = "activated_on"
    raw_id_fields = ("store", "package", "account_manager")
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False  # a count over a million rows on every page is too slow

    @admin.display(description=_("号码"), ordering="msisdn")
    def masked(self, obj: Customer) -> str:
        return _mask(obj.msisdn)

    def change_view(self, request: Any, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        if request.method == "GET":
            audit_record(
                actor=request.user, verb="customer.view", object_type="customers.customer", object_id=str(object_id)
            )
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(CustomerEvent)
class CustomerEventAdmin(admin.ModelAdmin):
    list_display = ("masked", "type", "at", "source", "received_at")
    list_filter = ("type", "source")
    search_fields = ("=msisdn", "=idempotency_key")
    raw_id_fields = ("customer",)
    readonly_fields = ("received_at",)
    show_full_result_count = False

    @admin.display(description=_("号码"), ordering="msisdn")
    def masked(self, obj: CustomerEvent) -> str:
        return _mask(obj.msisdn)


@admin.register(Bill)
class BillAdmin(admin.ModelAdmin):
    list_display = ("masked", "bill_month", "amount", "issued_at")
    list_filter = ("bill_month",)
    search_fields = ("=customer__msisdn",)
    list_select_related = ("customer",)
    raw_id_fields = ("customer",)
    show_full_result_count = False

    @admin.display(description=_("号码"), ordering="customer__msisdn")
    def masked(self, obj: Bill) -> str:
        return _mask(obj.customer.msisdn)
