"""What an SMS template may say about a customer: the context the playbook's templates are written against."""

from __future__ import annotations

import functools
from typing import Any

from django.utils.translation import get_language

from onboard90.catalog.models import ReferenceItem, ReferenceKind
from onboard90.customers.enums import FirstMonth
from onboard90.customers.models import Bill, Customer


def reference_lists() -> dict[str, list[dict[str, Any]]]:
    """The channels, payment methods and data-surge causes (editable reference data), loaded once per batch."""
    items = ReferenceItem.objects.order_by("rank")
    lists: dict[str, list[dict[str, Any]]] = {"channels": [], "payment_methods": [], "data_surge_causes": []}
    key = {
        ReferenceKind.CHANNEL: "channels",
        ReferenceKind.PAYMENT_METHOD: "payment_methods",
        ReferenceKind.DATA_SURGE: "data_surge_causes",
    }
    for item in items:
        lists[key[item.kind]].append({"rank": item.rank, "name": item.name, "identifier": item.identifier})
    return lists


# The customer columns customer_context reads (with the relations `_References` attaches by id): a render
# loads only these. A field read here and missing there costs a query per message, not an error.
CUSTOMER_FIELDS = (
    "name", "msisdn", "first_month", "city_id", "store_id", "package_id", "vip_tier_id", "account_manager_id",
)


def customer_context(customer: Customer, *, bill: Bill | None, local: dict[str, str], refs: dict) -> dict[str, Any]:
    package = customer.package
    manager = customer.account_manager
    manager_ctx = None
    if manager is not None:
        profile = getattr(manager, "staff", None)
        manager_ctx = {"name": (profile.display_name if profile else "") or manager.get_username(), "phone": ""}
    return {
        "customer": {
            "name": customer.name,
            "msisdn_masked": customer.masked_msisdn,
            "city": customer.city.name,
            "store": customer.store.name,
        },
        "package": {
            "code": package.code,
            "name": package.name,
            "family": package.family,
            "product": package.product,
            "monthly_fee": package.monthly_fee,
            "voice_min": package.voice_min,
            "data_mb": package.data_mb,
            "sms": package.sms,
            "voice_rate": package.voice_rate,
            "data_rate": package.data_rate,
            "sms_rate": package.sms_rate,
        },
        "first_month": _first_month_label(customer.first_month),
        "vip": {"tier": customer.vip_tier.name, "code": customer.vip_tier.code} if customer.vip_tier else None,
        "manager": manager_ctx,
        "bill": {"month": bill.bill_month, "amount": bill.amount} if bill else None,
        "local": local,
        **refs,
    }


def _first_month_label(value: str) -> str:
    """As get_first_month_display(), which rebuilds the field's choices dict and translates on every call
    (a tenth of the render): looked up once per value and language."""
    return _label(FirstMonth, value, get_language())


@functools.lru_cache(maxsize=256)
def _label(choices, value: str, language: str | None) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value
