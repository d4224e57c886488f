"""Reads of usage: a customer's months, and the package-fit comparison the `fit` command shows."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

import numpy as np

from onboard90.catalog import tariff
from onboard90.catalog.models import Package
from onboard90.catalog.selectors import package_as_dict
from onboard90.core import clock
from onboard90.customers.models import Customer
from onboard90.customers.validation import parse_msisdn
from onboard90.usage import fit
from onboard90.usage.models import UsageMonth
from onboard90.usage.services import month_of

FIT_MONTHS = 2  # package fit prices the last two complete bill months
DEFAULT_THRESHOLDS = fit.Thresholds()  # 10 % saving, 50 % of the allowances: playbook data once an act


def complete_months(*, activated_on: dt.date, today: dt.date, count: int = FIT_MONTHS) -> list[str]:
    """The last `count` bill months (YYYY-MM, oldest first) that are over at `today` and that the customer
    was on the network for the whole of: the activation month is priced by its own first-month rules and
    is not a month of ordinary use, so it never counts."""
    months: list[str] = []
    first = today.replace(day=1)
    while len(months) < count:
        first = (first - dt.timedelta(days=1)).replace(day=1)  # the month before
        if first <= activated_on:
            break
        months.append(month_of(first))
    return months[::-1]


def candidate_packages(customer: Customer) -> list[Package]:
    """The packages open to the customer: on sale, of their product (post-paid or pre-paid), data cards to
    a data card and phone packages to a phone; their own package always, on sale or not. By fee."""
    own = customer.package
    datacard = own.family == "datacard"
    packages = Package.objects.filter(active=True, product=customer.product)
    packages = packages.filter(family="datacard") if datacard else packages.exclude(family="datacard")
    chosen = {p.pk: p for p in packages}
    chosen[own.pk] = own
    return sorted(chosen.values(), key=lambda p: (p.monthly_fee, p.code))


def customer_fit(
    *, msisdn: str, today: dt.date | None = None, thresholds: fit.Thresholds = DEFAULT_THRESHOLDS
) -> dict[str, Any]:
    """The whole comparison for one customer: every package open to them priced on their last two complete
    months, the verdict, the recommendation, the monthly saving and the explanation. Raises ValueError
    with the reason when there is nothing to price (an unknown number, no complete month of usage)."""
    number = parse_msisdn(msisdn)
    customer = Customer.objects.select_related("package").filter(msisdn=number).first()
    if customer is None:
        raise ValueError(f"未知号码(客户不存在) / unknown customer: {number}")
    today = today or clock.today()
    months = complete_months(activated_on=customer.activated_on, today=today)
    held = {m.month: m for m in UsageMonth.objects.filter(customer=customer, month__in=months)}
    priced = [month for month in months if month in held]
    if not priced:
        raise ValueError(
            f"尚无完整月份的用量 / no complete month of usage yet for {customer.masked_msisdn} "
            f"(activated {customer.activated_on}; complete months: {', '.join(months) or 'none yet'})"
        )
    packages = candidate_packages(customer)
    # Data cards move up their product's tiers (auto-upgrade): give them every data card on sale.
    rows = [package_as_dict(p) for p in packages]
    extra = [package_as_dict(p) for p in Package.objects.filter(active=True, family="datacard")
             if p.pk not in {q.pk for q in packages}]  # fmt: skip
    tariffs = tariff.tariffs_of([*rows, *extra])
    table = tariff.TariffTable(tariffs[p.code] for p in packages)
    current = table.index(customer.package.code)
    usage = {
        name: np.array([[getattr(held[m], name) for m in priced]], dtype=np.int64)
        for name in ("voice_min", "data_mb", "sms")
    }
    result = fit.package_fit(
        table,
        current=[current],
        open_to=np.ones((1, len(table)), dtype=bool),
        minutes=usage["voice_min"],
        data_mb=usage["data_mb"],
        sms=usage["sms"],
        thresholds=thresholds,
    )
    recommended = int(result.recommended[0])
    now_total = int(result.totals[0, current])
    comparison = []
    for column, package in enumerate(packages):
        total = int(result.totals[0, column])
        comparison.append({
            "package": package.code,
            "name": package.name,
            "monthly_fee": tariff.to_yuan(table.tariffs[column].fee),
            "months": {m: tariff.to_yuan(int(result.costs[0, column, k])) for k, m in enumerate(priced)},
            "average": tariff.to_yuan(total // len(priced)),
            "vs_current": tariff.to_yuan((total - now_total) // len(priced)) if total >= now_total
            else -tariff.to_yuan((now_total - total) // len(priced)),
            "current": column == current,
            "recommended": column == recommended,
        })  # fmt: skip
    return {
        "msisdn": customer.masked_msisdn,
        "package": customer.package.code,
        "product": customer.product,
        "months": priced,
        "usage": [
            {
                "month": m,
                "voice_min": held[m].voice_min,
                "data_mb": held[m].data_mb,
                "sms": held[m].sms,
                "days": held[m].days,
                "days_in_month": calendar.monthrange(int(m[:4]), int(m[5:]))[1],
            }
            for m in priced
        ],  # fmt: skip
        "missing_months": [m for m in months if m not in held],
        "fits": bool(result.fits[0]),
        "verdict": "fits" if result.fits[0] else "does_not_fit",
        "recommended": packages[recommended].code,
        "monthly_saving": tariff.to_yuan(int(result.saving[0])),
        "saves_enough": bool(result.saves_enough[0]),
        "under_used": bool(result.under_used[0]),
        "thresholds": {
            "saving_percent": thresholds.saving_percent,
            "min_use_percent": thresholds.min_use_percent,
        },
        "explanation": fit.explanation(
            result, table, 0, minutes=usage["voice_min"], data_mb=usage["data_mb"], sms=usage["sms"]
        ),
        "packages": comparison,
    }
