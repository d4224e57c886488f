"""流量突增提醒的判定: which data-surge alerts the usage a daily cycle claimed sets off, set-based, and their
record (`SurgeAlert`, one per threshold per bill month).

The engine (`journeys.surge_acts`) says *whose* usage may alert — the customers in an active journey whose
playbook has the act and whose audience admits them — and calls `surge_alerts_find` with them as a queryset.
The days judged are the day rows the loads claimed by the cycle wrote (`verdicts.loads_claim`: typically
yesterday's file, arrived overnight) for the last RECENT_DAYS days. Here, all at once, without a query per
customer:

1. the claimed days that *could* fire (one query): a day over `min_mb` (a day surge needs it), or a customer
   whose month is already at the lowest percent of an allowance (a crossing needs it). A day file touches
   every customer; most of them neither surge nor near their allowance, and their window is never read;
2. for those, the day rows of the surge window and the month rows (two queries a block of customers), laid out
   as arrays, one row per customer-day judged;
3. `usage.surge.surges` over the arrays: which alerts each day sets off.

What a day is judged against:

* the **window**: the SURGE_WINDOW_DAYS days before it (a day without a row is unknown, not zero);
* the **month before it**: the month row (the running month, docs/USAGE.md) less the days of that month from
  the judged day on — a month is always the sum of its days as they stand, so this is the month up to the day
  before, whichever days a file brought; a customer with no month row on file has the days of the window;
* the **allowance**: the package's data MB, but in the activation month what the first-month option left of it
  (`catalog.tariff`, §1.6): half of it rounded up under 套餐减半, none under 套餐包外资费 (every MB at the
  out-of-package rate: nothing to cross).

`surge_alerts_store` inserts the alerts ignoring conflicts with the unique (customer, month, kind, percent)
key, so an alert raised once is never raised again that month — by a rerun, a crashed cycle's rerun, or a
re-imported day — and returns the ones this call inserted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db.models import BigIntegerField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.aggregates import Max

from onboard90.catalog.tariff import half_allowance
from onboard90.core.bulk import insert_objects, raw_rows
from onboard90.core.planner import EpochDay, among
from onboard90.customers.enums import FirstMonth
from onboard90.usage import surge
from onboard90.usage.models import SurgeAlert, SurgeKind, UsageDay, UsageLoad, UsageMonth
from onboard90.usage.services import SURGE_WINDOW_DAYS, month_of

# The days a cycle judges: today's and those of the RECENT_DAYS days before it that arrived since the previous
# cycle. An older day arriving now (a correction, a late file) is history: an alert about it would be news to
# no one, and a surge of last week says nothing about this week.
RECENT_DAYS = 3
# Customers read and judged at a time: a block's window is a few MB of arrays.
BLOCK = 20_000
# (customer row, month) as one sortable number: a month key (year × 12 + month − 1) is below this.
_MONTHS = 1 << 20
_EPOCH = dt.date(1970, 1, 1).toordinal()  # EpochDay's day 0 as a proleptic ordinal

Int64Array = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Found:
    """One alert a judged day sets off, with the figures it was judged on (whole MB)."""

    customer_id: int
    bill_month: str
    kind: str
    percent: int  # 0 for a day surge
    day: dt.date
    day_mb: int
    median_mb: Decimal | None  # the customer's own median before the day; None: fewer than min_days held
    days_held: int
    month_mb_before: int
    month_mb_after: int
    allowance_mb: int


def surge_alerts_find(
    customers: QuerySet, *, run_id: int, today: dt.date, thresholds: surge.SurgeThresholds
) -> list[Found]:
    """The alerts that the days written by the loads claimed by cycle `run_id` set off for `customers` (a
    queryset of Customer), earliest day first; at most one per (customer, month, kind, percent). Nothing is
    written (see the module's text)."""
    judged = _could_fire(customers, run_id=run_id, today=today, thresholds=thresholds)
    if not judged:
        return []
    found: list[Found] = []
    judged.sort(key=lambda row: (row[0], row[1]))
    start = 0
    while start < len(judged):  # blocks of about BLOCK days judged, all of a customer's in one block
        last = judged[min(start + BLOCK, len(judged)) - 1][0]
        end = start
        while end < len(judged) and judged[end][0] <= last:
            end += 1
        found.extend(_judge(judged[start:end], thresholds=thresholds))
        start = end
    # A file with several days of one month: the first day that crossed a threshold is the alert.
    first: dict[tuple[int, str, str, int], Found] = {}
    for alert in sorted(found, key=lambda a: (a.day, a.customer_id)):
        first.setdefault((alert.customer_id, alert.bill_month, alert.kind, alert.percent), alert)
    return list(first.values())


def _could_fire(
    customers: QuerySet, *, run_id: int, today: dt.date, thresholds: surge.SurgeThresholds
) -> list[tuple[Any, ...]]:
    """(customer, day, MB, package MB, activated_on, first_month) of the claimed days that can set off an
    alert: over `min_mb`, or of a customer whose running month is at the lowest percent of the allowance (of
    half of it under 套餐减半). A necessary condition only; `_judge` decides."""
    first_day = today - dt.timedelta(days=RECENT_DAYS)
    days = UsageDay.objects.filter(
        load_id__in=UsageLoad.objects.filter(consumed_by=run_id).values("pk"),
        day__gte=first_day,
        customer_id__in=customers.values("pk"),
    )
    could = Q(data_mb__gt=thresholds.min_mb)
    if thresholds.month_percents:
        lowest = thresholds.month_percents[0]
        # The largest month on file since the first day judged: never less than the month of the day judged.
        top = Subquery(
            UsageMonth.objects.filter(customer_id=OuterRef("customer_id"), month__gte=month_of(first_day))
            .values("customer_id")
            .annotate(top=Max("data_mb"))
            .values("top")
        )
        days = days.alias(
            top_100=_whole(top * 100),
            top_200=_whole(top * 200),
            share=_whole(F("customer__package__data_mb") * lowest),
        )
        could |= Q(customer__package__data_mb__gt=0) & (
            Q(top_100__gte=F("share")) | Q(customer__first_month=FirstMonth.HALF, top_200__gte=F("share"))
        )
    return list(
        days.filter(could).values_list(
            "customer_id",
            "day",
            "data_mb",
            "customer__package__data_mb",
            "customer__activated_on",
            "customer__first_month",
        )
    )


def _whole(expression) -> ExpressionWrapper:
    return ExpressionWrapper(expression, output_field=BigIntegerField())


def _ordinals(days: Iterable[dt.date]) -> Int64Array:
    return np.fromiter((d.toordinal() for d in days), dtype=np.int64)


def _month_keys(ordinals: Int64Array) -> Int64Array:
    """year × 12 + month − 1 of proleptic ordinals, as NumPy dates (no Python per day)."""
    dates = (ordinals - _EPOCH).astype("datetime64[D]")
    months = dates.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    return months + 1970 * 12


def _judge(rows: list[tuple[Any, ...]], *, thresholds: surge.SurgeThresholds) -> list[Found]:
    """The alerts of one block's judged days: their window and month read in two queries, judged in NumPy."""
    width = SURGE_WINDOW_DAYS
    customer = np.array([r[0] for r in rows], dtype=np.int64)
    day = _ordinals(r[1] for r in rows)
    day_mb = np.array([r[2] for r in rows], dtype=np.int64)
    package_mb = np.array([r[3] for r in rows], dtype=np.int64)
    activated = _ordinals(r[4] for r in rows)
    option = np.array([str(r[5]) for r in rows])
    ids = np.unique(customer)
    base = int(day.min()) - width  # column 0 of the block's day matrix

    # Millions of rows at a province's scale: read as integers (the day as its number), the ids as one array.
    held_rows = np.array(
        raw_rows(
            UsageDay.objects.filter(
                among("customer_id", ids.tolist()), day__gte=dt.date.fromordinal(base)
            ).values_list("customer_id", EpochDay("day"), "data_mb")
        ),
        dtype=np.int64,
    ).reshape(-1, 3)
    row_customer = np.searchsorted(ids, held_rows[:, 0])
    row_day = held_rows[:, 1] + _EPOCH - base
    span = int(max(row_day.max(initial=0), day.max() - base)) + 1
    mb = np.zeros((len(ids), span), dtype=np.int32)  # a day's MB < 2**31 (DAY_LIMITS); half the width to judge
    held = np.zeros((len(ids), span), dtype=np.bool_)
    mb[row_customer, row_day] = held_rows[:, 2]
    held[row_customer, row_day] = True

    at = np.searchsorted(ids, customer)  # each judged day's customer row
    col = day - base  # and its column
    window_cols = col[:, None] - width + np.arange(width)[None, :]
    window, window_held = mb[at[:, None], window_cols], held[at[:, None], window_cols]

    # The month before the day: the month row less the month's days from the day on (see the module's text).
    column_month = _month_keys(base + np.arange(span))
    month = column_month[col]
    same_month_from_day = (np.arange(span)[None, :] >= col[:, None]) & (
        column_month[None, :] == month[:, None]
    )
    from_day = (mb[at] * same_month_from_day).sum(axis=1)
    before_in_window = (window * (window_held & (column_month[window_cols] == month[:, None]))).sum(axis=1)
    months = {month_of(dt.date.fromordinal(int(o))) for o in np.unique(day)}
    month_rows = list(
        UsageMonth.objects.filter(among("customer_id", ids.tolist()), month__in=months).values_list(
            "customer_id", "month", "data_mb"
        )
    )
    key = at * _MONTHS + month
    on_file_key = np.searchsorted(
        ids, np.array([r[0] for r in month_rows], dtype=np.int64)
    ) * _MONTHS + np.array([int(m[:4]) * 12 + int(m[5:]) - 1 for _c, m, _mb in month_rows], dtype=np.int64)
    order = np.argsort(on_file_key)
    on_file_key, on_file_mb = on_file_key[order], np.array([r[2] for r in month_rows], dtype=np.int64)[order]
    has_month = np.zeros(len(key), dtype=np.bool_)
    month_total = np.zeros(len(key), dtype=np.int64)
    if len(on_file_key):
        where = np.minimum(np.searchsorted(on_file_key, key), len(on_file_key) - 1)
        has_month, month_total = on_file_key[where] == key, on_file_mb[where]
    month_before = np.maximum(np.where(has_month, month_total - from_day, before_in_window), 0)

    # The allowance of the day's month: in the activation month, what the first-month option leaves of it.
    first_month = month == _month_keys(activated)
    allowance = np.where(
        first_month & (option == FirstMonth.OUTSIDE.value),
        0,
        np.where(first_month & (option == FirstMonth.HALF.value), half_allowance(package_mb), package_mb),
    )

    judged = surge.surges(
        window=window,
        held=window_held,
        today=day_mb,
        month_before=month_before,
        allowance=allowance,
        thresholds=thresholds,
    )
    out: list[Found] = []
    for i in np.flatnonzero(judged.any):
        median = judged.median[i]
        common = {
            "customer_id": int(customer[i]),
            "bill_month": month_of(dt.date.fromordinal(int(day[i]))),
            "day": dt.date.fromordinal(int(day[i])),
            "day_mb": int(day_mb[i]),
            "median_mb": None if np.isnan(median) else Decimal(float(median)).quantize(Decimal("0.1")),
            "days_held": int(judged.held[i]),
            "month_mb_before": int(month_before[i]),
            "month_mb_after": int(month_before[i] + day_mb[i]),
            "allowance_mb": int(allowance[i]),
        }
        if judged.day_surge[i]:
            out.append(Found(kind=SurgeKind.DAY_SURGE, percent=0, **common))
        for k in np.flatnonzero(judged.crossed[i]):
            out.append(Found(kind=SurgeKind.MONTH_SHARE, percent=judged.percents[k], **common))
    return out


def surge_alerts_store(*, found: list[Found], run_id: int) -> list[SurgeAlert]:
    """Insert the alerts, a conflict with one already on file (the same customer, month, kind and percent)
    skipped; returns those this call inserted, by id. Call it inside the cycle's lock (the ids above the
    highest on file before the insert are this call's)."""
    if not found:
        return []
    top = SurgeAlert.objects.aggregate(top=Max("pk"))["top"] or 0
    insert_objects(
        SurgeAlert,
        (
            SurgeAlert(
                customer_id=a.customer_id,
                bill_month=a.bill_month,
                kind=a.kind,
                percent=a.percent,
                day=a.day,
                day_mb=a.day_mb,
                median_mb=a.median_mb,
                days_held=a.days_held,
                month_mb_before=a.month_mb_before,
                month_mb_after=a.month_mb_after,
                allowance_mb=a.allowance_mb,
                raised_by=run_id,
            )
            for a in found
        ),
        ignore_conflicts=True,
    )
    return list(SurgeAlert.objects.filter(pk__gt=top, raised_by=run_id).order_by("pk"))


def alert_context(alert: SurgeAlert | None) -> dict[str, Any] | None:
    """`alert` as the SMS template sees it: the day as the customer reads it (5月3日), the usual day in whole
    MB, the month so far and what is left of the allowance."""
    if alert is None:
        return None
    usual = None
    if alert.median_mb is not None:
        usual = int(Decimal(alert.median_mb).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return {
        "kind": alert.kind,
        "day": f"{alert.day.month}月{alert.day.day}日",
        "day_mb": alert.day_mb,
        "median_mb": usual,
        "percent": alert.percent,
        "month_mb": alert.month_mb_after,
        "allowance_mb": alert.allowance_mb,
        "left_mb": max(alert.allowance_mb - alert.month_mb_after, 0),
    }
