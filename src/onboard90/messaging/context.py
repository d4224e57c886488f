"""What an SMS template may say about a customer: the context the playbook's templates are written against."""

from __future__ import annotations

import functools
from typing import Any

from django.utils import translation

from onboard90.catalog.models import ReferenceItem, ReferenceKind, VoiceScope
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
    return {
        "customer": {
            "name": customer.name,
            "msisdn_masked": customer.masked_msisdn,
            "city": customer.city.name,
            "store": customer.store.name,
        },
        "package": package_context(customer.package),
        "first_month": _first_month_label(customer.first_month),
        "first_month_code": customer.first_month,
        "vip": vip_context(customer.vip_tier),
        "manager": manager_context(customer.account_manager),
        "bill": {"month": bill.bill_month, "amount": bill.amount} if bill else None,
        "local": local,
        **refs,
    }


def package_context(package) -> dict[str, Any]:
    """What a template may say about a package, in the customer's terms: `voice_scope` is the word before
    the minutes and the out-of-package call rate (国内, 本地 for C plans and the 20元 card, "" when the
    package has no voice), `long_distance_rate` the rate of long-distance and roaming calls where it
    differs (else None), `minimum_spend` whether the fee is a minimum spend, `data_cap_mb` where data stops
    for the month (None: no shut-off to mention). Takes any object with the catalogue's fields, saved or not."""
    return {
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
        "voice_scope": _chinese_label(VoiceScope, package.voice_scope) if package.voice_scope else "",
        "long_distance_rate": package.long_distance_rate,
        "minimum_spend": package.minimum_spend,
        "data_cap_mb": package.data_cap_mb,
    }


def vip_context(tier) -> dict[str, Any] | None:
    """The customer's tier with its own benefits from the catalogue, one item per `；`-separated entry."""
    if tier is None:
        return None
    benefits = [item.strip() for item in tier.benefits.replace(";", "；").split("；") if item.strip()]
    return {"tier": tier.name, "code": tier.code, "benefits": benefits}


def manager_context(manager) -> dict[str, str] | None:
    """The account manager as the customer should know them: their name and work phone from the staff
    record, never their login (an account manager's record must carry both, see org.services)."""
    if manager is None:
        return None
    profile = getattr(manager, "staff", None)
    return {
        "name": (profile.display_name if profile else "") or "",
        "phone": (getattr(profile, "phone", "") if profile else "") or "",
    }


def _first_month_label(value: str) -> str:
    return _chinese_label(FirstMonth, value)


@functools.lru_cache(maxsize=256)
def _chinese_label(choices, value: str) -> str:
    """A choice's label as the customer reads it: an SMS is Chinese whatever language the page that
    previews it, or the process that renders it, is in. Looked up once per value (get_FOO_display()
    rebuilds the choices dict and translates on every call)."""
    try:
        with translation.override("zh-hans"):
            return str(choices(value).label)
    except ValueError:
        return value
