"""Reads over the catalogue: packages as data, VIP tiers, reference facts for scripts and templates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from onboard90.catalog.models import Package, ReferenceItem, ReferenceKind, VipTier, VoiceScope
from onboard90.core.language import chinese_label


def _number(value: Decimal) -> int | float:
    """A JSON-friendly number: 66 rather than 66.0 for whole yuan, 0.15 for rates."""
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def package_list(*, include_inactive: bool = False) -> QuerySet[Package]:
    """Packages on sale (or all), by family then fee."""
    packages = Package.objects.all()
    return packages if include_inactive else packages.filter(active=True)


def package_lookup(code: str) -> Package:
    package = Package.objects.filter(code__iexact=str(code).strip()).first()
    if package is None:
        raise ValueError(f"未知套餐 / unknown package: {code!r} (例如 / e.g. A66, B96, P20)")
    return package


def package_as_dict(p: Package) -> dict[str, Any]:
    """One package as plain data (the `catalog --json` row): money in yuan, allowances per month."""
    return {
        "code": p.code,
        "name": p.name,
        "family": p.family,
        "product": p.product,
        "monthly_fee": _number(p.monthly_fee),
        "voice_min": p.voice_min,
        "data_mb": p.data_mb,
        "sms": p.sms,
        "voice_rate": _number(p.voice_rate),
        "data_rate": _number(p.data_rate),
        "sms_rate": _number(p.sms_rate),
        "video_rate": _number(p.video_rate),
        "voice_scope": p.voice_scope,
        "long_distance_rate": _number(p.long_distance_rate) if p.long_distance_rate is not None else None,
        "minimum_spend": p.minimum_spend,
        "data_cap_mb": p.data_cap_mb,
    }


def vip_tier_list(*, enabled_only: bool = False) -> QuerySet[VipTier]:
    """VIP tiers, highest (rank 1) first."""
    tiers = VipTier.objects.all()
    return tiers.filter(enabled=True) if enabled_only else tiers


def reference_items(kind: str | None = None) -> QuerySet[ReferenceItem]:
    """Reference facts (channels, payment methods, data-surge causes) in their shipped order."""
    items = ReferenceItem.objects.all()
    if kind is not None:
        if kind not in ReferenceKind.values:
            raise ValueError(f"未知类别 / unknown kind: {kind!r} ({', '.join(ReferenceKind.values)})")
        items = items.filter(kind=kind)
    return items


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
        "voice_scope": chinese_label(VoiceScope, package.voice_scope) if package.voice_scope else "",
        "long_distance_rate": package.long_distance_rate,
        "minimum_spend": package.minimum_spend,
        "data_cap_mb": package.data_cap_mb,
    }


def catalogue_packages() -> list[dict[str, Any]]:
    """Every package of the catalogue as a template sees it (`package_context`): what a playbook's SMS are
    rendered against before it is published."""
    return [package_context(package) for package in Package.objects.order_by("code")]

