"""Admin for customers, their events and bills: numbers masked in lists; opening a customer is audited.

A customer is added or changed as a customers-file row: the form's values go through the import's own
validation and write (services.customer_write_prepare), so the admin refuses what an import refuses, with
the same reason, and records the change as an import does. What other acts set (the anchors derived from
the instants, the account manager, the first bill, a cancellation) is shown, not edited. Events and bills
are facts that arrived; they are only shown.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.utils.translation import gettext_lazy as _

from onboard90.core.masking import mask_msisdn
from onboard90.customers import services
from onboard90.customers.models import Bill, Customer, CustomerEvent

# What a customers row sets, in the order of the file's columns.
EDITABLE = (
    "msisdn", "name", "city", "store", "activated_at", "product", "package", "contract_plan", "previous_msisdn",
    "handset_os", "vip_tier", "vip_rated_at", "first_month", "marketing_opt_out",
)
# Derived from an editable instant (the *_on anchors, number_changed) or set by another act.
SHOWN_ONLY = (
    "activated_on", "number_changed", "vip_rated_on", "account_manager", "manager_assigned_at",
    "manager_assigned_on", "first_bill_at", "first_bill_on", "status", "cancelled_at", "created_at", "updated_at",
)
NOT_CLEARED = _(
    "清空不会生效：与导入一样，空值保留原有内容 / clearing is not kept: as in an import, an empty value keeps "
    "what is on file"
)
ANCHOR_KEPT = _(
    "VIP评级时间是VIP服务的起点，首次评级后不再更改 / vip_rated_at is the start of the VIP plan and stays that of "
    "the first rating"
)


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


def _is_empty(value: Any) -> bool:
    return value is None or value == ""


class CustomerForm(forms.ModelForm):
    """A customer as a customers-file row, validated and applied in memory by the import's code in `clean`;
    the admin's save_model writes what was prepared (`write`)."""

    write: services.CustomerWrite | None = None

    class Meta:
        model = Customer
        fields = EDITABLE

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:  # a value the form itself could not read; its own error says why
            return cleaned
        new = self.instance.pk is None
        try:
            self.write = services.customer_write_prepare(row=self._row(cleaned, new=new), new=new)
        except services.RowError as exc:
            raise forms.ValidationError(exc.reason) from None
        except LookupError as exc:  # no playbook published yet
            raise forms.ValidationError(str(exc)) from None
        self._refuse_what_would_not_be_kept(cleaned, new=new)
        return cleaned

    def _instant(self, cleaned: dict[str, Any], name: str) -> str:
        value = cleaned.get(name)
        if value is None:
            return ""
        before = getattr(self.instance, name, None)
        # The form shows whole seconds: an untouched value keeps the fraction on file (no change recorded).
        if isinstance(before, dt.datetime) and before.replace(microsecond=0) == value.replace(microsecond=0):
            value = before
        return value.isoformat(sep=" ")

    def _row(self, cleaned: dict[str, Any], *, new: bool) -> dict[str, str]:
        """The customers-file row these values would be (column -> text)."""
        tier = cleaned.get("vip_tier")
        rated = tier is not None and (new or tier.pk != self.instance.vip_tier_id)
        return {
            "msisdn": (cleaned.get("msisdn") or "") if new else self.instance.msisdn,
            "name": cleaned.get("name") or "",
            "city": cleaned["city"].code,
            "store_code": cleaned["store"].code,
            "activated_at": self._instant(cleaned, "activated_at"),
            "product": cleaned.get("product") or "",
            "package_code": cleaned["package"].code,
            "contract_plan": cleaned.get("contract_plan") or "",
            "previous_msisdn": cleaned.get("previous_msisdn") or "",
            "handset_os": cleaned.get("handset_os") or "",
            # An unchanged tier is not a new rating (as an empty cell in a file): it stays as it is on file,
            # even if that tier has been disabled since.
            "vip_level": tier.code if rated else "",
            "vip_rated_at": self._instant(cleaned, "vip_rated_at") if rated else "",
            "first_month": cleaned.get("first_month") or "",
            "marketing_opt_out": "1" if cleaned.get("marketing_opt_out") else "0",
        }

    def _refuse_what_would_not_be_kept(self, cleaned: dict[str, Any], *, new: bool) -> None:
        """A value the import's rules would not store is a form error, never a silent difference between
        the form that was saved and the customer on file."""
        assert self.write is not None
        for name, wanted in list(cleaned.items()):  # add_error drops the field from cleaned
            attname = Customer._meta.get_field(name).attname
            kept = getattr(self.write.customer, attname)
            wanted = wanted.pk if isinstance(wanted, models.Model) else wanted
            before = None if new else getattr(self.instance, attname)
            if _is_empty(wanted) and not _is_empty(before) and not _is_empty(kept):
                self.add_error(name, NOT_CLEARED)
            elif name == "vip_rated_at" and wanted is not None and kept is not None:
                if kept.replace(microsecond=0) != wanted.replace(microsecond=0):
                    self.add_error(name, ANCHOR_KEPT)


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    form = CustomerForm
    list_display = ("masked", "city", "store", "product", "package", "vip_tier", "activated_on", "status")
    list_filter = ("city", "product", VipFilter, "vip_tier", "status", "number_changed")
    list_select_related = ("city", "store", "package", "vip_tier")
    search_fields = ("=msisdn",)  # exact number only: no browsing by fragments of personal data
    date_hierarchy = "activated_on"
    fields = EDITABLE + SHOWN_ONLY
    raw_id_fields = ("store", "package")
    readonly_fields = SHOWN_ONLY
    show_full_result_count = False  # a count over a million rows on every page is too slow

    @admin.display(description=_("号码"), ordering="msisdn")
    def masked(self, obj: Customer) -> str:
        return mask_msisdn(obj.msisdn)

    def get_readonly_fields(self, request: Any, obj: Customer | None = None) -> Any:
        # The number is the customer's key in every file; a new number is a number change (previous_msisdn).
        return ("msisdn", *SHOWN_ONLY) if obj is not None else SHOWN_ONLY

    def save_model(self, request: Any, obj: Customer, form: CustomerForm, change: bool) -> None:
        """Write what the form's validation prepared (the import's write), then show what is on file."""
        assert form.write is not None  # a valid form has prepared its write
        customer = form.write.save(actor=request.user)
        obj.pk = customer.pk
        obj._state.adding = False
        obj.refresh_from_db()

    def change_view(self, request: Any, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        if request.method == "GET" and str(object_id).isdigit():
            # The admin's page shows the full number, as the customer page does: the same audited view.
            customer = Customer.objects.filter(pk=int(object_id)).first()
            if customer is not None:
                services.customer_viewed(customer=customer, viewed_by=request.user)
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
        return mask_msisdn(obj.msisdn)

    # The record of what arrived: an edited event would no longer be what was received.
    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


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
        return mask_msisdn(obj.customer.msisdn)

    # Bills arrive through the bills import or the API (customer_record_bill), which also keep the
    # first-bill anchor; a bill typed here would bypass it.
    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False
