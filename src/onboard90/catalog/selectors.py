"""Reads over the catalogue: packages as data, VIP tiers, reference facts for scripts and templates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from onboard90.catalog.models import Package, ReferenceItem, ReferenceKind, VipTier


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
