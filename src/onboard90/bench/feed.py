"""A province's usage feed for `bench cycle --usage`: the cycle's usage steps (package-fit verdicts, offers,
data-surge alerts) measured with the night's file a real province sends.

Without it the bench's province has no usage, and those steps find nothing to do. With it, the build leaves
the usage the earlier cycles consumed — HISTORY_DAYS days of every customer's day rows through the real
import (the demo's habits: `demo.usage.usage_rows`, a share of each package's allowance a day, a tenth of
the customers surging now and then), and the two months before the measured one as complete months (thirty
times the history's average day) — and before each measured cycle yesterday's file is written and imported
(`usage.services.usage_import`, untimed by the cycle: the import is its own job, `bench usage` measures it).
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path

from django.db import connection

from onboard90.core import clock
from onboard90.demo.usage import demo_usage_day, habit_of
from onboard90.journeys.enums import CycleStatus
from onboard90.journeys.models import CycleRun
from onboard90.usage.models import UsageLoad
from onboard90.usage.services import month_of

# Days of history before yesterday's file: the surge rule wants 7 days held in its window.
HISTORY_DAYS = 8
COMPLETE_MONTHS = 2


def history(*, today: dt.date, seed: int) -> int:
    """The usage the cycles before `today` consumed; returns the day rows written."""
    rows = _import_days([today - dt.timedelta(days=back) for back in range(HISTORY_DAYS + 1, 1, -1)], seed=seed)
    last = CycleRun.objects.filter(status=CycleStatus.FINISHED).order_by("-as_of").values_list("pk", flat=True).first()
    UsageLoad.objects.filter(consumed_by__isnull=True).update(consumed_by=last)
    load = UsageLoad.objects.order_by("-pk").values_list("pk", flat=True).first()
    first = today.replace(day=1)
    for _ in range(COMPLETE_MONTHS):
        first = (first - dt.timedelta(days=1)).replace(day=1)
        _complete_month(first, load=load)
    return rows


def _complete_month(first: dt.date, *, load: int | None) -> None:
    """The month of `first` as a complete month for the customers active all of it: thirty of their average
    history day (the day rows of those weeks are not all written: only the month row counts for a verdict)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO usage_usagemonth (customer_id, month, voice_min, data_mb, sms, days, load_id) "
            "SELECT d.customer_id, %s, 30 * SUM(d.voice_min) / COUNT(*), 30 * SUM(d.data_mb) / COUNT(*), "
            "30 * SUM(d.sms) / COUNT(*), 30, %s FROM usage_usageday d "
            "JOIN customers_customer c ON c.id = d.customer_id WHERE c.activated_on < %s GROUP BY d.customer_id "
            "ON CONFLICT (customer_id, month) DO UPDATE SET voice_min = excluded.voice_min, "
            "data_mb = excluded.data_mb, sms = excluded.sms, days = excluded.days",
            [month_of(first), load, first],
        )


def deliver(*, day: dt.date, seed: int) -> dict[str, float | int]:
    """Yesterday's file for the cycle of `day`, written and imported the night before it; its rows and seconds."""
    started = time.perf_counter()
    rows = _import_days([day - dt.timedelta(days=1)], seed=seed)
    return {"usage_rows": rows, "usage_import_s": round(time.perf_counter() - started, 3)}


def _import_days(days: list[dt.date], *, seed: int) -> int:
    """Each day's file of the demo's habits, written and imported the night after it; the day rows written."""
    with tempfile.TemporaryDirectory(prefix="onboard90-feed-") as folder:
        rows = sum(
            demo_usage_day(day=day, folder=Path(folder), seed=seed, now=_night_before(day + dt.timedelta(days=1)))
            for day in days
        )
    habit_of.cache_clear()  # a million numbers' habits: not for the measured process to keep
    return rows


def _night_before(day: dt.date) -> dt.datetime:
    """Half an hour before the cycle of `day`: when the night's BSS files are in."""
    return clock.cycle_instant(day) - dt.timedelta(minutes=30)
