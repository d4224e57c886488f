"""Reads of usage: a customer's months, and the package-fit comparison the `fit` command shows."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

import numpy as np
from django.db.models import Count, Q

from onboard90.catalog import tariff
from onboard90.catalog.models import Package
from onboard90.catalog.selectors import package_as_dict
from onboard90.core import clock
from onboard90.customers.models import Customer
from onboard90.customers.validation import parse_msisdn
from onboard90.usage import fit
from onboard90.usage.models import Offer, OfferChoice, PackageFitVerdict, SurgeAlert, UsageDay, UsageMonth
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


# --- offers made and taken up (`onboard90 report offers`) ---------------------------------------------------

OFFER_FIGURES = ("made", "accepted", "taken", "take_up_rate")
OFFER_FIGURES_ZH = ("推荐", "回复有意向", "已办理", "办理率")


def _offer_row(made: int, accepted: int, taken: int) -> dict[str, Any]:
    return {"made": made, "accepted": accepted, "taken": taken, "take_up_rate": (taken / made) if made else None}


def offer_report() -> dict[str, Any]:
    """增值业务推荐效果: the offers made (their SMS written), accepted (a 1/是 reply) and taken up (the follow-up
    reached the customer), per offer and per city, with the province total. Counted in the database."""
    made = OfferChoice.objects.filter(made_at__isnull=False)
    counts = {
        "made": Count("pk"),
        "accepted": Count("pk", filter=Q(accepted_at__isnull=False)),
        "taken": Count("pk", filter=Q(taken_at__isnull=False)),
    }
    by_offer = {row["offer_id"]: row for row in made.values("offer_id").annotate(**counts)}
    offers = [
        {"offer": o.code, "name": o.name, **_offer_row(*(by_offer.get(o.pk, {}).get(k, 0) for k in counts))}
        for o in Offer.objects.order_by("kind", "rank", "amount")
    ]
    cities = [
        {"city": row["customer__city__code"], "name": row["customer__city__name"],
         **_offer_row(row["made"], row["accepted"], row["taken"])}
        for row in made.values("customer__city__code", "customer__city__name").annotate(**counts)
        .order_by("customer__city__code")
    ]  # fmt: skip
    total = made.aggregate(**counts)
    return {"offers": offers, "cities": cities, "total": _offer_row(total["made"], total["accepted"], total["taken"])}


# --- the customer page ------------------------------------------------------------------------------------

PAGE_DAYS = 35  # the daily chart: the surge window's days
PAGE_CHEAPEST = 4  # the comparison shows the cheapest packages, the current and the recommended one


def customer_usage(*, customer: Customer, today: dt.date) -> dict[str, Any]:
    """What the customer page shows of usage: data by day (the last PAGE_DAYS days on file), each month on
    file against the package's allowances, the package-fit verdict the cycle made with its comparison table
    (money in yuan), the offer chosen and what became of it, and the data-surge alerts with their SMS. A few
    queries whatever the customer."""
    package = customer.package
    since = today - dt.timedelta(days=PAGE_DAYS - 1)
    days = list(
        UsageDay.objects.filter(customer=customer, day__gte=since, day__lte=today)
        .order_by("day")
        .values_list("day", "voice_min", "data_mb", "sms")
    )
    months = []
    for row in UsageMonth.objects.filter(customer=customer).order_by("month"):
        parts = []
        for label, used, included in (
            ("voice", row.voice_min, package.voice_min),
            ("data", row.data_mb, package.data_mb),
            ("sms", row.sms, package.sms),
        ):
            share = (used * 100 + included // 2) // included if included else None
            parts.append({"part": label, "used": used, "included": included, "percent": share})
        length = calendar.monthrange(int(row.month[:4]), int(row.month[5:]))[1]
        months.append({"month": row.month, "days": row.days, "days_in_month": length, "parts": parts})
    verdict = PackageFitVerdict.objects.filter(customer=customer).first()
    fit_doc = None
    if verdict is not None:
        names = dict(Package.objects.values_list("code", "name"))
        months_priced = verdict.comparison.get("months", [])
        count = max(len(months_priced), 1)
        current = next((sum(c) for code, c in verdict.comparison.get("packages", []) if code == verdict.package), 0)
        rows = []
        for code, costs in verdict.comparison.get("packages", []):
            total = sum(costs)
            rows.append({
                "package": code, "name": names.get(code, code), "costs": [tariff.to_yuan(c) for c in costs],
                "average": tariff.to_yuan(total // count),
                "difference": tariff.to_yuan((total - current) // count) if total >= current
                else -tariff.to_yuan((current - total) // count),
                "current": code == verdict.package, "recommended": code == verdict.recommended,
            })  # fmt: skip
        rows.sort(key=lambda r: (r["average"], r["package"]))
        # What a clerk compares: the cheapest few, the current package and the recommended one; the rest folded.
        for rank, row in enumerate(rows):
            row["main"] = rank < PAGE_CHEAPEST or row["current"] or row["recommended"]
        fit_doc = {
            "verdict": verdict.verdict,
            "verdict_label": verdict.get_verdict_display(),
            "package": verdict.package,
            "recommended": verdict.recommended,
            "recommended_name": names.get(verdict.recommended, verdict.recommended),
            "saving": tariff.to_yuan(verdict.saving),
            "current_cost": tariff.to_yuan(verdict.current_cost),
            "explanation": verdict.explanation,
            "months": months_priced,
            "usage": verdict.comparison.get("usage", []),
            "as_of": verdict.as_of,
            "rows": rows,
            "main_count": sum(1 for r in rows if r["main"]),
        }
    choice = OfferChoice.objects.select_related("offer").filter(customer=customer).first()
    # At most one per threshold a month (a handful a journey), newest first, each with its SMS in the same join.
    alerts = list(SurgeAlert.objects.filter(customer=customer).select_related("message").order_by("-day", "-pk"))
    return {
        "days": [{"day": d.isoformat(), "voice_min": v, "data_mb": m, "sms": s} for d, v, m, s in days],
        "months": months,
        "fit": fit_doc,
        "offer": choice,
        "alerts": alerts,
    }
