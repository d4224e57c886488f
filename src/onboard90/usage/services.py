"""Writes of usage: the bulk import of daily rows, the single `usage_daily` event, and pruning.

Both the import and the event go through `_write`: the rows of a chunk are staged in a temporary table,
then upserted into the day rows in one INSERT … SELECT … ON CONFLICT DO UPDATE (a re-imported day replaces
that customer-day), and the month rows of every (customer, month) the chunk touched are recomputed from
the day rows in one more statement (so a month is always the sum of its days, never a day counted twice).
A row whose values are those already held writes nothing (its day and month keep their load), so the
cycle's acts do not see it again. Each chunk is one transaction with its `UsageLoad`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

from django.db import connection, transaction

from onboard90.core import clock
from onboard90.core.bulk import chunks
from onboard90.core.services import audit_record
from onboard90.customers import importing
from onboard90.customers.importing import UnusableFile
from onboard90.customers.services import ImportResult
from onboard90.customers.validation import RowError
from onboard90.usage.models import UsageDay, UsageLoad, UsageMonth
from onboard90.usage.validation import USAGE_REQUIRED, Clean, clean_usage, usage_cleaner

__all__ = [
    "CHUNK",
    "MONTH_RETENTION_DAYS",
    "SURGE_WINDOW_DAYS",
    "UnusableFile",
    "day_horizon",
    "month_horizon",
    "month_of",
    "usage_import",
    "usage_prune",
    "usage_record",
]

# Rows validated, looked up and written together: one transaction, one load.
CHUNK: Final = 10000
# The data-surge alert compares a day with the customer's own median over the days before it: the day rows
# of this many days before today are kept (and, so that a month can always be recomputed from its days,
# every day of the month the window begins in).
SURGE_WINDOW_DAYS: Final = 35
# Month rows are kept while they can matter to a journey: the 90 days and the two complete months package
# fit prices all lie inside the months of the last 92 days.
MONTH_RETENTION_DAYS: Final = 92
# Loads a finished cycle consumed are kept this long (what changed when), as the customers' change log.
LOAD_RETENTION: Final = dt.timedelta(days=7)
STAGE: Final = "usage_stage"
CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"

Progress = Callable[[int, int | None], None]
Key = tuple[int, str]  # (customer id, day as YYYY-MM-DD)
Amounts = tuple[int, int, int]  # voice_min, data_mb, sms


def month_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _month_bounds(day: dt.date) -> tuple[dt.date, dt.date]:
    first = day.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def day_horizon(today: dt.date) -> dt.date:
    """The first day whose row is still held at `today`: the first of the month in which the surge window
    (SURGE_WINDOW_DAYS before today) begins. Earlier days are pruned and may no longer be imported."""
    return (today - dt.timedelta(days=SURGE_WINDOW_DAYS)).replace(day=1)


def month_horizon(today: dt.date) -> str:
    """The first bill month whose row is still held at `today` (YYYY-MM)."""
    return month_of(today - dt.timedelta(days=MONTH_RETENTION_DAYS))


# --- the write path ------------------------------------------------------------------------------------


def _stage_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} (customer_id bigint NOT NULL, day date NOT NULL, "
            "month varchar(7) NOT NULL, month_first date NOT NULL, month_last date NOT NULL, "
            "voice_min integer NOT NULL, data_mb integer NOT NULL, sms integer NOT NULL)"
        )
        cursor.execute(f"DELETE FROM {STAGE}")


def _stage(items: dict[Key, Amounts]) -> None:
    bounds: dict[str, tuple[str, str]] = {}  # month -> its first and last day
    rows = []
    for (customer_id, day), (voice, data, sms) in items.items():
        month = day[:7]
        if month not in bounds:
            first, last = _month_bounds(dt.date.fromisoformat(day))
            bounds[month] = (first.isoformat(), last.isoformat())
        rows.append((customer_id, day, month, *bounds[month], voice, data, sms))
    columns = "customer_id, day, month, month_first, month_last, voice_min, data_mb, sms"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {STAGE} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            connection.connection.executemany(
                f"INSERT INTO {STAGE} ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
        if connection.vendor == "postgresql":
            # A temporary table has no statistics until analysed: without them the planner guesses a few
            # hundred rows and aggregates the months by hash, three times slower than with them.
            cursor.execute(f"ANALYZE {STAGE}")


_DIFFERS = "{t}.voice_min <> excluded.voice_min OR {t}.data_mb <> excluded.data_mb OR {t}.sms <> excluded.sms"

_COUNT = f"""
SELECT count(*), COALESCE(SUM(CASE WHEN d.voice_min = s.voice_min AND d.data_mb = s.data_mb AND d.sms = s.sms
                                   THEN 1 ELSE 0 END), 0)
FROM {STAGE} s JOIN usage_usageday d ON d.customer_id = s.customer_id AND d.day = s.day
"""

_UPSERT_DAYS = f"""
INSERT INTO usage_usageday (customer_id, day, voice_min, data_mb, sms, load_id)
SELECT customer_id, day, voice_min, data_mb, sms, %s FROM {STAGE} WHERE 1 = 1
ON CONFLICT (customer_id, day) DO UPDATE SET voice_min = excluded.voice_min, data_mb = excluded.data_mb,
    sms = excluded.sms, load_id = excluded.load_id
WHERE {_DIFFERS.format(t="usage_usageday")}
"""

# Every (customer, month) the chunk touched, recomputed from its days as they now stand.
_RECOMPUTE_MONTHS = f"""
INSERT INTO usage_usagemonth (customer_id, month, voice_min, data_mb, sms, days, load_id)
SELECT d.customer_id, t.month, SUM(d.voice_min), SUM(d.data_mb), SUM(d.sms), COUNT(*), %s
FROM (SELECT DISTINCT customer_id, month, month_first, month_last FROM {STAGE}) t
JOIN usage_usageday d ON d.customer_id = t.customer_id AND d.day >= t.month_first AND d.day <= t.month_last
WHERE 1 = 1
GROUP BY d.customer_id, t.month
ON CONFLICT (customer_id, month) DO UPDATE SET voice_min = excluded.voice_min, data_mb = excluded.data_mb,
    sms = excluded.sms, days = excluded.days, load_id = excluded.load_id
WHERE {_DIFFERS.format(t="usage_usagemonth")} OR usage_usagemonth.days <> excluded.days
"""


def _write(items: dict[Key, Amounts], *, source: str) -> tuple[int, int, int]:
    """Upsert these customer-days and recompute their months, in one transaction. Returns (created,
    updated, unchanged)."""
    if not items:
        return 0, 0, 0
    with transaction.atomic():
        _stage_table()
        _stage(items)
        with connection.cursor() as cursor:
            cursor.execute(_COUNT)
            existing, unchanged = (int(n) for n in cursor.fetchone())
            created, updated = len(items) - existing, existing - unchanged
            if created or updated:
                load = UsageLoad.objects.create(source=source[:64], rows=created + updated)
                cursor.execute(_UPSERT_DAYS, [load.pk])
                cursor.execute(_RECOMPUTE_MONTHS, [load.pk])
            cursor.execute(f"DELETE FROM {STAGE}")
    return created, updated, unchanged


def _customers(
    msisdns: Iterable[str], known: dict[str, tuple[int, str]] | None = None
) -> dict[str, tuple[int, str]]:
    """msisdn -> (customer id, activation date as YYYY-MM-DD) for the numbers on file, added to `known`
    (a run's cache: a week's file names each customer seven times) and returned."""
    found = {} if known is None else known
    wanted = [number for number in dict.fromkeys(msisdns) if number not in found]
    pg = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        for chunk in chunks(wanted, 10000 if pg else 2000):
            if pg:  # one array parameter: a list of thousands of %s costs more to send than to answer
                cursor.execute(
                    "SELECT msisdn, id, activated_on FROM customers_customer WHERE msisdn = ANY(%s)",
                    [list(chunk)],
                )
            else:
                cursor.execute(
                    "SELECT msisdn, id, activated_on FROM customers_customer WHERE msisdn IN "
                    f"({', '.join(['%s'] * len(chunk))})",
                    list(chunk),
                )
            for msisdn, pk, activated_on in cursor.fetchall():
                found[msisdn] = (
                    pk,
                    activated_on if isinstance(activated_on, str) else activated_on.isoformat(),
                )
    return found


def _place(clean: Clean, customers: dict[str, tuple[int, str]]) -> tuple[Key, Amounts]:
    msisdn, day, voice, data, sms = clean
    found = customers.get(msisdn)
    if found is None:
        raise RowError(f"未知号码(客户不存在) / unknown customer: {msisdn}")
    customer_id, activated_on = found
    if day < activated_on:
        raise RowError(
            f"日期早于入网日期{activated_on} / date is before the activation on {activated_on}: {day}"
        )
    return (customer_id, day), (voice, data, sms)


# --- the import ----------------------------------------------------------------------------------------


def usage_import(
    *,
    path: str | Path,
    imported_by: Any = None,
    now: dt.datetime | None = None,
    on_progress: Progress | None = None,
) -> ImportResult:
    """Import daily usage rows `msisdn, date, voice_min, data_mb, sms` (CSV UTF-8/BOM/GBK or XLSX).

    A day already held is replaced (counted updated, or unchanged when its values are the same); within
    one file the last row of a customer-day wins and the rows before it count as duplicates. Rejected rows
    go to the error file beside the input with their reason. Raises UnusableFile for the file as a whole.
    Ends by pruning what is no longer kept (usage_prune).
    """
    now = now or clock.now()
    today = clock.local_date(now)
    earliest = day_horizon(today)
    table = importing.open_table(path, required=USAGE_REQUIRED)
    writer = importing.CsvErrorWriter(table)
    result = ImportResult(kind="usage", path=str(table.path))
    source = f"import:usage:{table.path.name}"
    clean_row = usage_cleaner(today=today, earliest=earliest)
    known: dict[str, tuple[int, str]] = {}
    done = 0
    for chunk in chunks(table.rows(), CHUNK):
        rejected: list[tuple[importing.Row, str]] = []
        good: list[tuple[importing.Row, Clean]] = []
        for row in chunk:
            try:
                if row.error:
                    raise RowError(row.error)
                good.append((row, clean_row(row.values)))
            except RowError as exc:
                rejected.append((row, exc.reason))
        customers = _customers((clean[0] for _row, clean in good), known)
        items: dict[Key, Amounts] = {}
        for row, clean in good:
            try:
                key, amounts = _place(clean, customers)
            except RowError as exc:
                rejected.append((row, exc.reason))
                continue
            if key in items:
                result.duplicates += 1
            items[key] = amounts
        created, updated, unchanged = _write(items, source=source)
        result.total += len(chunk)
        result.created += created
        result.updated += updated
        result.unchanged += unchanged
        for row, reason in sorted(rejected, key=lambda entry: entry[0].line):  # in file order
            writer.write(row, reason)
            result.rejected += 1
        done += len(chunk)
        if on_progress is not None:
            on_progress(done, table.estimated_rows)
    error_path = writer.close()
    result.error_path = str(error_path) if error_path else None
    usage_prune(today=today)
    audit_record(
        actor=imported_by,
        verb="import.usage",
        object_type="usage.import",
        object_id=table.path.name[:64],
        after=result.as_dict(),
    )
    return result


# --- one event ------------------------------------------------------------------------------------------


def usage_record(
    *,
    msisdn: str,
    day: str | dt.date,
    voice_min: Any,
    data_mb: Any,
    sms: Any,
    source: str = "api",
    recorded_by: Any = None,
    now: dt.datetime | None = None,
) -> str:
    """One `usage_daily` event (a customer's usage of one day), through the import's own checks and write:
    created, updated (the day replaced) or unchanged. Raises RowError with the reason an import would give.

    Not audited one by one (a feed sends one a customer a day); `recorded_by` is the feed's account, kept
    as the load's source when given."""
    now = now or clock.now()
    today = clock.local_date(now)
    values = {
        "msisdn": str(msisdn),
        "date": day.isoformat() if isinstance(day, dt.date) else str(day),
        "voice_min": _text(voice_min),
        "data_mb": _text(data_mb),
        "sms": _text(sms),
    }
    clean = clean_usage(values, today=today, earliest=day_horizon(today))
    key, amounts = _place(clean, _customers([clean[0]]))
    who = getattr(recorded_by, "username", None)
    created, updated, _unchanged = _write({key: amounts}, source=f"{source}:{who}" if who else source)
    return CREATED if created else UPDATED if updated else UNCHANGED


def _text(value: Any) -> str:
    """A JSON value as the text a CSV cell would have held (True is not a number of minutes)."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else "not a number"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# --- pruning --------------------------------------------------------------------------------------------


def usage_prune(*, today: dt.date) -> dict[str, int]:
    """Delete what is no longer kept at `today`: day rows before `day_horizon`, month rows before
    `month_horizon`, and loads older than the day horizon or consumed by a cycle more than LOAD_RETENTION
    ago. Returns the rows deleted per model."""
    days, _ = UsageDay.objects.filter(day__lt=day_horizon(today)).delete()
    months, _ = UsageMonth.objects.filter(month__lt=month_horizon(today)).delete()
    start = clock.at_local(today)
    old = UsageLoad.objects.filter(loaded_at__lt=clock.at_local(day_horizon(today)))
    spent = UsageLoad.objects.filter(consumed_by__isnull=False, loaded_at__lt=start - LOAD_RETENTION)
    loads = old.delete()[0] + spent.delete()[0]
    return {"days": days, "months": months, "loads": loads}
