"""Writes of usage: the bulk import of daily rows, the single `usage_daily` event, and pruning.

Both the import and the event go through `_write`, one transaction a chunk with its `UsageLoad`. New days (the
usual case: a day's file) go straight into the day rows (binary COPY on PostgreSQL, one INSERT … SELECT from
a JSON text on SQLite) and their months grow by the days' sums. When a day is held, the chunk's
customer-days are staged in a temporary table, the month rows of every (customer, month) they change are
moved by the difference — the new day minus the day it replaces, read from the day rows before they are
written — and the day rows are upserted in one INSERT … SELECT … ON CONFLICT DO UPDATE (a re-imported day
replaces that customer-day). A month is the sum of its days before a write and so after it: never a day
counted twice, and never a month re-read from all its days. A row whose values are those already held writes
nothing (its day and month keep their load), so the cycle's acts do not see it again.

A day's file holds a row for every customer, so the import's checks run a column at a time (NumPy over
the chunk: numbers looked up in one statement, each distinct date checked once, amounts read with int());
only a line that fails a quick check takes the full row checks of `usage.validation`, which give its reason.
Outside a caller's transaction the chunks are written by a thread of their own beside the reading
(`_Writes`). docs/PERFORMANCE.md has the measured figures.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import queue
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt
import yaml
from django.db import IntegrityError, connection, transaction
from psycopg.errors import UniqueViolation

from onboard90.core import clock
from onboard90.core.bulk import chunks
from onboard90.core.services import audit_record
from onboard90.customers import importing
from onboard90.customers.importing import UnusableFile
from onboard90.customers.services import ImportResult
from onboard90.customers.validation import RowError
from onboard90.org.services import install_rows
from onboard90.usage.models import Offer, UsageDay, UsageLoad, UsageMonth
from onboard90.usage.validation import DAY_LIMITS, USAGE_REQUIRED, Clean, clean_usage, usage_cleaner

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

# Rows checked, looked up and written together: one transaction, one load. Large, so that the statements'
# fixed costs (planning, the stage's ANALYZE, the commit) are spread thin; 50 000 rows are a few MB.
CHUNK: Final = 50000
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
# PostgreSQL advisory lock taken by every usage write's transaction (see _write).
WRITE_LOCK: Final = 0x75736167  # "usag"
_ISO_DAY: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LATEST: Final = 10**9  # an activation no day reaches: a number not on file
CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"

Progress = Callable[[int, int | None], None]
Int64Array = npt.NDArray[np.int64]


def month_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def day_horizon(today: dt.date) -> dt.date:
    """The first day whose row is still held at `today`: the first of the month in which the surge window
    (SURGE_WINDOW_DAYS before today) begins. Earlier days are pruned and may no longer be imported."""
    return (today - dt.timedelta(days=SURGE_WINDOW_DAYS)).replace(day=1)


def month_horizon(today: dt.date) -> str:
    """The first bill month whose row is still held at `today` (YYYY-MM)."""
    return month_of(today - dt.timedelta(days=MONTH_RETENTION_DAYS))


# --- the write path ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """Customer-days ready to write: one entry per (customer, day), sorted by them (the unique key's order:
    the index pages are written in sequence). Days are proleptic ordinals (`date.toordinal`)."""

    customer: Int64Array
    day: Int64Array
    voice_min: Int64Array
    data_mb: Int64Array
    sms: Int64Array

    def __len__(self) -> int:
        return int(self.customer.shape[0])


def _stage_table() -> None:
    with connection.cursor() as cursor:
        # On SQLite the stage is keyed as the batch is sorted (by customer and day, so by customer and
        # month too): written in order, it is read in the months' order without a sort for their GROUP BY.
        key = (
            ", PRIMARY KEY (customer_id, month, day)) WITHOUT ROWID" if connection.vendor == "sqlite" else ")"
        )
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} (customer_id bigint NOT NULL, day date NOT NULL, "
            "month varchar(7) NOT NULL, voice_min integer NOT NULL, data_mb integer NOT NULL, "
            f"sms integer NOT NULL{key}"
        )
        # A temporary table is never vacuumed: on PostgreSQL a DELETE would leave every chunk's rows behind
        # as dead tuples that the next chunk's joins read again.
        cursor.execute(f"TRUNCATE {STAGE}" if connection.vendor == "postgresql" else f"DELETE FROM {STAGE}")


# PostgreSQL's binary COPY format (one header, then per row the field count and each field's length and
# big-endian value): the stage's rows are one NumPy record array, written as bytes without a Python object
# per row.
_PGCOPY_HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_PGCOPY_TRAILER: Final = b"\xff\xff"
_PG_EPOCH: Final = dt.date(2000, 1, 1).toordinal()  # a binary date is days since 2000-01-01
_PGCOPY_ROW: Final = np.dtype(
    [("fields", ">i2"),
     ("customer_len", ">i4"), ("customer_id", ">i8"),
     ("day_len", ">i4"), ("day", ">i4"),
     ("month_len", ">i4"), ("month", "S7"),
     ("voice_len", ">i4"), ("voice_min", ">i4"),
     ("data_len", ">i4"), ("data_mb", ">i4"),
     ("sms_len", ">i4"), ("sms", ">i4")]
)  # fmt: skip


_DAY_ROW: Final = np.dtype(
    [("fields", ">i2"),
     ("customer_len", ">i4"), ("customer_id", ">i8"),
     ("day_len", ">i4"), ("day", ">i4"),
     ("voice_len", ">i4"), ("voice_min", ">i4"),
     ("data_len", ">i4"), ("data_mb", ">i4"),
     ("sms_len", ">i4"), ("sms", ">i4"),
     ("load_len", ">i4"), ("load_id", ">i8")]
)  # fmt: skip
_MONTH_ROW: Final = np.dtype(
    [("fields", ">i2"),
     ("customer_len", ">i4"), ("customer_id", ">i8"),
     ("month_len", ">i4"), ("month", "S7"),
     ("voice_len", ">i4"), ("voice_min", ">i4"),
     ("data_len", ">i4"), ("data_mb", ">i4"),
     ("sms_len", ">i4"), ("sms", ">i4"),
     ("days_len", ">i4"), ("days", ">i2"),
     ("load_len", ">i4"), ("load_id", ">i8")]
)  # fmt: skip


def _copy_rows(cursor, table: str, columns: str, rows: np.ndarray) -> None:
    """Binary COPY of a record array laid out as the format's rows (the field count, then each column's
    length and value): the counts and lengths are filled in here, the values by the caller."""
    names = rows.dtype.names
    rows["fields"] = len(names) // 2
    for length, value in zip(names[1::2], names[2::2], strict=True):
        rows[length] = rows.dtype.fields[value][0].itemsize
    with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(_PGCOPY_HEADER + rows.tobytes() + _PGCOPY_TRAILER)


def _months_of(days: Int64Array) -> npt.NDArray[np.bytes_]:
    """YYYY-MM of each day ordinal (as bytes), each distinct day worked out once."""
    unique, inverse = np.unique(days, return_inverse=True)
    keys = np.array(
        [dt.date.fromordinal(day).isoformat()[:7].encode() for day in unique.tolist()], dtype="S7"
    )
    return keys[inverse]


def _stage(batch: Batch) -> None:
    """The batch into the stage table: one binary COPY of one buffer on PostgreSQL, one `executemany` on
    SQLite."""
    columns = "customer_id, day, month, voice_min, data_mb, sms"
    months = _months_of(batch.day)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            rows = np.empty(len(batch), dtype=_PGCOPY_ROW)
            rows["customer_id"] = batch.customer
            rows["day"] = batch.day - _PG_EPOCH
            rows["month"] = months
            rows["voice_min"] = batch.voice_min
            rows["data_mb"] = batch.data_mb
            rows["sms"] = batch.sms
            _copy_rows(cursor, STAGE, columns, rows)
            # A temporary table has no statistics until analysed: without them the planner guesses a few
            # hundred rows and picks hash aggregates and nested loops that cost several times more.
            cursor.execute(f"ANALYZE {STAGE}")
        else:
            iso = {day: dt.date.fromordinal(day).isoformat() for day in np.unique(batch.day).tolist()}
            values = zip(
                batch.customer.tolist(),
                map(iso.__getitem__, batch.day.tolist()),
                np.char.decode(months, "ascii").tolist(),
                batch.voice_min.tolist(),
                batch.data_mb.tolist(),
                batch.sms.tolist(),
                strict=True,
            )
            connection.connection.executemany(
                f"INSERT INTO {STAGE} ({columns}) VALUES (?, ?, ?, ?, ?, ?)", values
            )


_SAME = "d.voice_min = s.voice_min AND d.data_mb = s.data_mb AND d.sms = s.sms"

_COUNT = f"""
SELECT count(*), COALESCE(SUM(CASE WHEN {_SAME} THEN 1 ELSE 0 END), 0)
FROM {STAGE} s JOIN usage_usageday d ON d.customer_id = s.customer_id AND d.day = s.day
"""

# What each (customer, month) of the chunk changes, read before the days are written: the new day minus
# the day it replaces (nothing for a new day), and the days the month gains. Unchanged days take no part.
_DELTAS = f"""
SELECT s.customer_id, s.month, SUM(s.voice_min - COALESCE(d.voice_min, 0)) AS voice_min,
    SUM(s.data_mb - COALESCE(d.data_mb, 0)) AS data_mb, SUM(s.sms - COALESCE(d.sms, 0)) AS sms,
    SUM(CASE WHEN d.id IS NULL THEN 1 ELSE 0 END) AS days
FROM {STAGE} s LEFT JOIN usage_usageday d ON d.customer_id = s.customer_id AND d.day = s.day
WHERE d.id IS NULL OR NOT ({_SAME})
GROUP BY s.customer_id, s.month
"""
# The same when no day of the chunk is held yet (a day's new file): no look-up of the old days at all.
_NEW_DELTAS = f"""
SELECT s.customer_id, s.month, SUM(s.voice_min) AS voice_min, SUM(s.data_mb) AS data_mb, SUM(s.sms) AS sms,
    COUNT(*) AS days
FROM {STAGE} s
GROUP BY s.customer_id, s.month
"""

_DIFFERS = "{t}.voice_min <> excluded.voice_min OR {t}.data_mb <> excluded.data_mb OR {t}.sms <> excluded.sms"

# month := month + (new − old) for every month the chunk changes, written as the new totals (a delta
# may be negative and the columns are checked >= 0). The month is the sum of its days before, so it is
# after: never recomputed from all its days, never a day counted twice.
_UPDATE_MONTHS = """
INSERT INTO usage_usagemonth (customer_id, month, voice_min, data_mb, sms, days, load_id)
SELECT c.customer_id, c.month, COALESCE(m.voice_min, 0) + c.voice_min, COALESCE(m.data_mb, 0) + c.data_mb,
    COALESCE(m.sms, 0) + c.sms, COALESCE(m.days, 0) + c.days, %s
FROM ({deltas}) c LEFT JOIN usage_usagemonth m ON m.customer_id = c.customer_id AND m.month = c.month
WHERE 1 = 1
ON CONFLICT (customer_id, month) DO UPDATE SET voice_min = excluded.voice_min, data_mb = excluded.data_mb,
    sms = excluded.sms, days = excluded.days, load_id = excluded.load_id
WHERE {differs} OR usage_usagemonth.days <> excluded.days
"""

# Whether any month of the chunk is held already: when none is (a customer's first usage, the first day of a
# month), the months are plain inserts of the chunk's sums — about a third of the cost of the difference
# above, which probes the months twice (the join, then ON CONFLICT) for rows that are not there — and no day
# can be held either. When one is, the answer comes from the first rows probed.
_MONTHS_HELD = f"""
SELECT EXISTS (SELECT 1 FROM {STAGE} s JOIN usage_usagemonth m ON m.customer_id = s.customer_id AND m.month = s.month)
"""

_INSERT_MONTHS = f"""
INSERT INTO usage_usagemonth (customer_id, month, voice_min, data_mb, sms, days, load_id)
SELECT customer_id, month, SUM(voice_min), SUM(data_mb), SUM(sms), COUNT(*), %s FROM {STAGE}
GROUP BY customer_id, month
"""

_UPSERT_DAYS = f"""
INSERT INTO usage_usageday (customer_id, day, voice_min, data_mb, sms, load_id)
SELECT customer_id, day, voice_min, data_mb, sms, %s FROM {STAGE} WHERE 1 = 1
ON CONFLICT (customer_id, day) DO UPDATE SET voice_min = excluded.voice_min, data_mb = excluded.data_mb,
    sms = excluded.sms, load_id = excluded.load_id
WHERE {_DIFFERS.format(t="usage_usageday")}
"""


# The same when none of the chunk's days is held (the count says so, under the write lock): a plain insert
# skips the speculative insertion ON CONFLICT makes for every row.
_INSERT_DAYS = f"""
INSERT INTO usage_usageday (customer_id, day, voice_min, data_mb, sms, load_id)
SELECT customer_id, day, voice_min, data_mb, sms, %s FROM {STAGE}
"""


def _month_sums(batch: Batch, *, load_id: int) -> np.ndarray:
    """The batch's month rows, in COPY's layout: its sums and days per customer and month (the batch is sorted
    by customer and day, so a customer's month is a run of rows)."""
    months = _months_of(batch.day)
    starts = np.flatnonzero(
        np.concatenate([[True], (batch.customer[1:] != batch.customer[:-1]) | (months[1:] != months[:-1])])
    )
    rows = np.empty(len(starts), dtype=_MONTH_ROW)
    rows["customer_id"] = batch.customer[starts]
    rows["month"] = months[starts]
    for name in ("voice_min", "data_mb", "sms"):
        rows[name] = np.add.reduceat(getattr(batch, name), starts)
    rows["days"] = np.diff(np.append(starts, len(batch)))
    rows["load_id"] = load_id
    return rows


_MONTH_COLUMNS: Final = "customer_id, month, voice_min, data_mb, sms, days, load_id"
_MONTH_SUMS: Final = "usage_month_sums"
# The months of new days grow by the days' sums: nothing to subtract, the month is read only by its key.
_ADD_MONTHS: Final = f"""
INSERT INTO usage_usagemonth ({_MONTH_COLUMNS}) SELECT {_MONTH_COLUMNS} FROM {_MONTH_SUMS}
ON CONFLICT (customer_id, month) DO UPDATE SET voice_min = usage_usagemonth.voice_min + excluded.voice_min,
    data_mb = usage_usagemonth.data_mb + excluded.data_mb, sms = usage_usagemonth.sms + excluded.sms,
    days = usage_usagemonth.days + excluded.days, load_id = excluded.load_id
"""


def _copy_new_days(cursor, batch: Batch, *, source: str) -> bool:
    """PostgreSQL, when none of the batch's days is held (its COPY meets no unique key: a day's new file, the
    usual case): the day rows written by one binary COPY straight into their table, and the months — as
    inserted by a second COPY when none of them is held either (a customer's first usage, a month's first
    day), else grown by the days' sums through a small stage of one row per customer and month. False, having
    written nothing, when a day is held: the batch then goes the staged way, which replaces days."""
    try:
        with transaction.atomic():
            load = UsageLoad.objects.create(source=source[:64], rows=len(batch))
            days = np.empty(len(batch), dtype=_DAY_ROW)
            days["customer_id"] = batch.customer
            days["day"] = batch.day - _PG_EPOCH
            days["voice_min"], days["data_mb"], days["sms"] = batch.voice_min, batch.data_mb, batch.sms
            days["load_id"] = load.pk
            _copy_rows(cursor, "usage_usageday", "customer_id, day, voice_min, data_mb, sms, load_id", days)
    except UniqueViolation:
        return False
    sums = _month_sums(batch, load_id=load.pk)
    # Whether the first month is held already decides it for the usual files (a day's file names each customer
    # once, in the same month): a probe of one key spares sending a COPY that its first row would stop.
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM usage_usagemonth WHERE customer_id = %s AND month = %s)",
        [int(sums["customer_id"][0]), sums["month"][0].decode()],
    )
    if not cursor.fetchone()[0]:
        try:
            with transaction.atomic():
                _copy_rows(cursor, "usage_usagemonth", _MONTH_COLUMNS, sums)
            return True
        except UniqueViolation:
            pass  # a later month is held: add to them
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {_MONTH_SUMS} (customer_id bigint NOT NULL, month varchar(7) NOT NULL, "
        "voice_min integer NOT NULL, data_mb integer NOT NULL, sms integer NOT NULL, days smallint NOT NULL, "
        "load_id bigint NOT NULL)"
    )
    cursor.execute(f"TRUNCATE {_MONTH_SUMS}")
    _copy_rows(cursor, _MONTH_SUMS, _MONTH_COLUMNS, sums)
    cursor.execute(_ADD_MONTHS)
    return True


# SQLite: the months of one load's new day rows grown by their sums (or made), read back from the rows just
# written through the load's index: no Python value a month.
_ADD_LOAD_MONTHS: Final = f"""
INSERT INTO usage_usagemonth ({_MONTH_COLUMNS})
SELECT customer_id, substr(day, 1, 7), SUM(voice_min), SUM(data_mb), SUM(sms), COUNT(*), load_id
FROM usage_usageday WHERE load_id = %s GROUP BY customer_id, substr(day, 1, 7)
ON CONFLICT (customer_id, month) DO UPDATE SET voice_min = voice_min + excluded.voice_min,
    data_mb = data_mb + excluded.data_mb, sms = sms + excluded.sms, days = days + excluded.days,
    load_id = excluded.load_id
"""


# SQLite: a batch's day rows in one statement from one JSON text (customer, day ordinal, voice, data, SMS a
# row) — the whole insert runs inside SQLite without the interpreter, where an `executemany` takes it back for
# every row; the day's text made by SQLite from the ordinal (julianday 1721424.5 is ordinal 0).
_INSERT_DAY_ROWS: Final = """
INSERT INTO usage_usageday (customer_id, day, voice_min, data_mb, sms, load_id)
SELECT value ->> 0, date(value ->> 1 + 1721424.5), value ->> 2, value ->> 3, value ->> 4, %s FROM json_each(%s)
"""


def _insert_new_days(batch: Batch, *, source: str) -> bool:
    """SQLite, when none of the batch's days is held (their insert meets no unique key): the day rows inserted
    straight into their table, and the months grown by their sums (or made) by one statement that reads them
    back — no stage. False, having written nothing, when a day is held: the batch then goes the staged way."""
    rows = json.dumps(
        np.column_stack([batch.customer, batch.day, batch.voice_min, batch.data_mb, batch.sms]).tolist()
    )
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            load = UsageLoad.objects.create(source=source[:64], rows=len(batch))
            cursor.execute(_INSERT_DAY_ROWS, [load.pk, rows])
    except IntegrityError:
        return False
    with connection.cursor() as cursor:
        cursor.execute(_ADD_LOAD_MONTHS, [load.pk])
    return True


def _write(batch: Batch, *, source: str) -> tuple[int, int, int]:
    """Write these customer-days and move their months by the difference, in one transaction. Returns
    (created, updated, unchanged)."""
    if not len(batch):
        return 0, 0, 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # The months move by the difference from the days read here: two writers of the same
                # customer-day at once would both add their difference. Usage writers take turns (a chunk
                # holds the lock for its transaction); SQLite has one writer at a time anyway.
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
                if _copy_new_days(cursor, batch, source=source):
                    return len(batch), 0, 0
            elif _insert_new_days(batch, source=source):
                return len(batch), 0, 0
        _stage_table()
        _stage(batch)
        with connection.cursor() as cursor:
            # A day is held only with its month (they are written together, and months are kept longer: see
            # month_horizon), so when no month of the chunk is held no day is either, and the days need no count.
            cursor.execute(_MONTHS_HELD)
            months_held = bool(cursor.fetchone()[0])
            existing = unchanged = 0
            if months_held:
                cursor.execute(_COUNT)
                existing, unchanged = (int(n) for n in cursor.fetchone())
            created, updated = len(batch) - existing, existing - unchanged
            if created or updated:
                load = UsageLoad.objects.create(source=source[:64], rows=created + updated)
                if months_held:
                    months = _UPDATE_MONTHS.format(
                        deltas=_DELTAS if existing else _NEW_DELTAS, differs=_DIFFERS.format(t="usage_usagemonth")
                    )
                else:
                    months = _INSERT_MONTHS
                cursor.execute(months, [load.pk])  # before the days: it reads the days they replace
                cursor.execute(_UPSERT_DAYS if existing else _INSERT_DAYS, [load.pk])
            cursor.execute(
                f"TRUNCATE {STAGE}" if connection.vendor == "postgresql" else f"DELETE FROM {STAGE}"
            )
    return created, updated, unchanged


class Known(NamedTuple):
    """The numbers looked up: msisdn -> customer id, and msisdn -> activation day (an ordinal)."""

    ids: dict[str, int]
    activations: dict[str, int]


def _lookup(msisdns: Iterable[str]) -> Known:
    """The customers on file among these numbers. Built from the fetched columns in C (`dict(zip(…))`): a day's
    file names every customer, and a Python statement per number cost seconds a million."""
    wanted = list(msisdns)
    known = Known({}, {})
    ordinals: dict[str, int] = {}  # the activation dates seen (SQLite)
    with connection.cursor() as cursor:
        for chunk in chunks(wanted, 50000):
            if connection.vendor == "postgresql":  # one text parameter split by the server, not thousands of %s
                cursor.execute(
                    "SELECT msisdn, id, activated_on - DATE '2000-01-01' + %s FROM customers_customer "
                    "WHERE msisdn = ANY(string_to_array(%s, ','))",
                    [_PG_EPOCH, ",".join(chunk)],
                )
                rows = cursor.fetchall()
                if rows:
                    numbers, ids, days = zip(*rows, strict=True)
                    known.ids.update(zip(numbers, ids, strict=True))
                    known.activations.update(zip(numbers, days, strict=True))
                continue
            # SQLite: one JSON parameter; the activation as text (no date object made per row).
            cursor.execute(
                "SELECT msisdn, id, CAST(activated_on AS TEXT) FROM customers_customer "
                "WHERE msisdn IN (SELECT value FROM json_each(%s))",
                [json.dumps(list(chunk))],
            )
            for msisdn, pk, activated_on in cursor.fetchall():
                day = ordinals.get(activated_on)
                if day is None:
                    day = ordinals[activated_on] = dt.date.fromisoformat(activated_on).toordinal()
                known.ids[msisdn] = pk
                known.activations[msisdn] = day
    return known


def _lookup_columns(msisdns: Sequence[str]) -> tuple[Int64Array, Int64Array] | None:
    """(customer id or -1, activation day ordinal or _LATEST) for each of these numbers, in their order
    (PostgreSQL): the distinct numbers sent as one text, the server's answer two texts in the same order, split
    into arrays — no Python object a number on either side. None where the numbers cannot go as one
    comma-separated text (a cell holding a comma): the caller looks them up by `_lookup`. On SQLite the distinct
    numbers go as one JSON text and the answer comes back as one JSON text."""
    if not len(msisdns):
        return None
    # The distinct numbers in their first order, and each line's place among them: a dict's hashing in C
    # (NumPy's unique sorts the texts, several times slower).
    distinct = list(dict.fromkeys(msisdns))
    place = dict(zip(distinct, range(len(distinct)), strict=True))
    position = np.fromiter(map(place.__getitem__, msisdns), np.int64, len(msisdns))
    if connection.vendor == "sqlite":
        # One JSON parameter in, one JSON text out ([place, id, activation day ordinal] for each number on
        # file): the whole look-up is one step of SQLite, which runs without the interpreter — fetched row by
        # row, each row would wait for the writing thread to hand the interpreter back.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT json_group_array(json_array(u.key, c.id, "
                "CAST(julianday(c.activated_on) - 1721424.5 AS INTEGER))) "
                "FROM json_each(%s) u JOIN customers_customer c ON c.msisdn = u.value",
                [json.dumps(distinct)],
            )
            found = np.array(json.loads(cursor.fetchone()[0]), dtype=np.int64).reshape(-1, 3)
        ids = np.full(len(distinct), -1, dtype=np.int64)
        activated = np.full(len(distinct), _LATEST, dtype=np.int64)
        ids[found[:, 0]], activated[found[:, 0]] = found[:, 1], found[:, 2]
        return ids[position], activated[position]
    joined = ",".join(distinct)
    if connection.vendor != "postgresql" or joined.count(",") != len(distinct) - 1:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT string_agg(COALESCE(c.id, -1)::text, ',' ORDER BY u.i), "
            "string_agg(COALESCE(c.activated_on - DATE '2000-01-01' + %s, %s)::text, ',' ORDER BY u.i) "
            "FROM unnest(string_to_array(%s, ',')) WITH ORDINALITY AS u(msisdn, i) "
            "LEFT JOIN customers_customer c ON c.msisdn = u.msisdn",
            [_PG_EPOCH, _LATEST, joined],
        )
        ids, activated = cursor.fetchone()
    return (
        np.array(ids.split(","), dtype=np.int64)[position],
        np.array(activated.split(","), dtype=np.int64)[position],
    )


def _place(clean: Clean, known: Known) -> tuple[int, int]:
    """(customer id, day ordinal) of a clean row, or RowError: nobody on file, or a day before activation."""
    msisdn, day, _voice, _data, _sms = clean
    customer_id = known.ids.get(msisdn)
    if customer_id is None:
        raise RowError(f"未知号码(客户不存在) / unknown customer: {msisdn}")
    activated = known.activations[msisdn]
    ordinal = dt.date.fromisoformat(day).toordinal()
    if ordinal < activated:
        activated_on = dt.date.fromordinal(activated).isoformat()
        raise RowError(
            f"日期早于入网日期{activated_on} / date is before the activation on {activated_on}: {day}"
        )
    return customer_id, ordinal


# --- reading a file in chunks ----------------------------------------------------------------------------


@dataclass
class _Chunk:
    """A slice of the file: the five columns' texts (one entry a line read; "" where a line has no such cell
    or cannot take the quick checks) and the line as the imports' reader gives it, for the full checks."""

    columns: list[Sequence[str]]
    row: Callable[[int], importing.Row | None]  # None: a blank line (skipped, not counted)

    def __len__(self) -> int:
        return len(self.columns[0])


def _plain_csv(table: importing.Table) -> Iterator[_Chunk] | None:
    """The chunks of a CSV file without a quote character, split straight from its text: a line is one record
    (no cell can hold a line break), so a record's line number is its position, and no `Row` is made for a line
    that passes the quick checks. A chunk whose lines all have the header's width is split as one text (its
    lines joined by the delimiter, then split: the cells of line i are i*width to i*width+width-1) — three
    times as fast as the csv module, which makes a list a line. None for any other file (the imports'
    reader is used), and for line breaks other than LF and CRLF."""
    if table.format != "csv":
        return None
    text, _encoding = importing.decode(table.path.read_bytes())
    if '"' in text:
        return None
    text = text.replace("\r\n", "\n")
    if "\r" in text:
        return None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the file's last line break
    delimiter = "\t" if "\t" in lines[0] and "," not in lines[0] else ","
    keys = table.keys
    width = len(keys)
    positions = [keys.index(name) for name in USAGE_REQUIRED]  # the first of same-named columns, as _row

    def chunked() -> Iterator[_Chunk]:
        for start in range(1, len(lines), CHUNK):  # line 1 is the header, checked by open_table
            block = lines[start : start + CHUNK]
            delimiters = np.fromiter(map(str.count, block, itertools.repeat(delimiter)), np.int64, len(block))
            picked: list[Sequence[str]]
            if bool((delimiters == width - 1).all()):
                cells = delimiter.join(block).split(delimiter)
                picked = [cells[p::width] for p in positions]
            else:  # short, long or empty lines take the full checks (and the blank ones are skipped)
                split = [line.split(delimiter) for line in block]
                picked = [[cells[p] if len(cells) == width else "" for cells in split] for p in positions]

            def row(i: int, block: list[str] = block, first: int = start + 1) -> importing.Row | None:
                cells = block[i].split(delimiter)
                if not any(cell.strip() for cell in cells):
                    return None
                return importing._row(first + i, keys, cells)  # noqa: SLF001 (the reader's own row)

            yield _Chunk(picked, row)

    return chunked()


def _read_ahead(chunks_of: Iterator[_Chunk]) -> Iterator[_Chunk]:
    """The chunks of a plain CSV, the next one read in a thread of its own while the caller checks and writes
    the last: the csv module's parsing is Python that otherwise waits for the database, which releases the
    interpreter while it writes. The thread touches no database. An error while reading is raised here, in
    the caller's order; the thread stops when the caller stops asking."""
    handoff: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    done = object()

    def read() -> None:
        try:
            for chunk in chunks_of:
                while not stop.is_set():
                    try:
                        handoff.put(chunk, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handoff.put(done)
        except BaseException as exc:  # handed to the caller, who raises it
            handoff.put(exc)

    reader = threading.Thread(target=read, name="usage-import-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            item = handoff.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            handoff.get_nowait()  # let a reader blocked on a full hand-off see the stop
        reader.join()


def _own_writer() -> bool:
    """Whether the chunks are written by a thread and connection of their own: outside a caller's transaction
    (which must hold the writes), on PostgreSQL or a SQLite file (an in-memory database is one connection's)."""
    if connection.in_atomic_block:
        return False
    return connection.vendor == "postgresql" or (
        connection.vendor == "sqlite" and not connection.is_in_memory_db()
    )


class _Writes:
    """The chunks' writes (`_write`, a transaction each, in the file's order) and their totals (created,
    updated, unchanged). Outside a caller's transaction, on PostgreSQL and on a SQLite file (`_own_writer`),
    they are made by a thread of their own on a connection of its own, so that the database writes one chunk
    while this process reads and checks the next (both drivers release the interpreter while the database
    works; on SQLite each write is a few statements that run wholly inside SQLite): the import's two halves then
    overlap instead of taking turns. Inside a caller's transaction (which must hold the writes) and on an
    in-memory database, each is made in line."""

    def __init__(self, *, source: str) -> None:
        self.source = source
        self.totals = [0, 0, 0]
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        if _own_writer():
            self.queue: queue.Queue[Batch | None] = queue.Queue(maxsize=1)
            self.thread = threading.Thread(target=self._run, name="usage-import-write", daemon=True)
            self.thread.start()

    def __call__(self, batch: Batch) -> None:
        if self.thread is None:
            self._add(_write(batch, source=self.source))
            return
        if self.error is not None:
            raise self.error
        self.queue.put(batch)

    def _add(self, counts: tuple[int, int, int]) -> None:
        self.totals = [total + n for total, n in zip(self.totals, counts, strict=True)]

    def _run(self) -> None:
        try:
            while (batch := self.queue.get()) is not None:
                if self.error is None:  # after a failure the rest is taken off the queue, not written
                    try:
                        self._add(_write(batch, source=self.source))
                    except BaseException as exc:  # raised in the importing thread
                        self.error = exc
        finally:
            connection.close()  # this thread's own

    def close(self) -> None:
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error


# How long a thread may keep the interpreter while another asks for it, while the import's threads run. The
# writing thread gives the interpreter up for each statement and asks for it back when the statement ends;
# with the default (5 ms) it then waits out the reading thread's turn each time, and the import took a quarter
# longer on SQLite (the threads are each other's only competitors for it).
_SWITCH_INTERVAL: Final = 0.0002


@contextlib.contextmanager
def _writes(*, source: str) -> Iterator[_Writes]:
    """The chunks' writer for one import; every write made (or its error raised) when the block ends."""
    writes = _Writes(source=source)
    previous = sys.getswitchinterval()
    if writes.thread is not None:
        sys.setswitchinterval(min(previous, _SWITCH_INTERVAL))
    try:
        try:
            yield writes
        except BaseException:
            with contextlib.suppress(BaseException):  # the reading's error is the one to raise
                writes.close()
            raise
        writes.close()
    finally:
        sys.setswitchinterval(previous)


def _chunks_of(table: importing.Table, plain: Iterator[_Chunk] | None) -> Iterator[_Chunk]:
    """The file's chunks. A plain CSV on PostgreSQL is parsed a chunk ahead in a thread of its own (psycopg
    gives the interpreter up for the whole of a statement). On SQLite it is parsed in line: the parsing would
    hold the interpreter whenever the importing thread comes back from SQLite, and each of its statements
    waited its turn (the import was slower by a sixth with the thread than without)."""
    if plain is None:
        return _rows_in_chunks(table)
    return _read_ahead(plain) if connection.vendor == "postgresql" else plain


def _rows_in_chunks(table: importing.Table) -> Iterator[_Chunk]:
    """Any file through the imports' reader (XLSX; a CSV with quoted cells)."""
    for block in chunks(table.rows(), CHUNK):
        rows = list(block)
        columns: list[Sequence[str]] = [
            [("" if row.error else row.values.get(name, "")) for row in rows] for name in USAGE_REQUIRED
        ]
        yield _Chunk(columns, rows.__getitem__)


def _whole_numbers(texts: Sequence[str]) -> Int64Array:
    """int(text) for each (what the full check gives for any text int() reads), -1 where int() refuses."""
    try:
        return np.fromiter(map(int, texts), np.int64, len(texts))
    except (ValueError, OverflowError):
        pass

    def one(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            return -1
        return value if 0 <= value < 2**62 else -1

    return np.fromiter(map(one, texts), np.int64, len(texts))


class _Reader:
    """The checks of one import run over its chunks, with the run's caches: the customers looked up (a
    week's file names each customer seven times) and the days seen."""

    def __init__(self, *, today: dt.date, earliest: dt.date) -> None:
        self.clean_row = usage_cleaner(today=today, earliest=earliest)
        self.first, self.last = earliest.isoformat(), today.isoformat()
        self.known = Known({}, {})
        self.ids, self.activations = self.known
        self.absent: set[str] = set()
        self.days: dict[str, int] = {}

    def _know(self, msisdns: Iterable[str]) -> None:
        wanted = set(msisdns).difference(self.ids, self.absent)
        if not wanted:
            return
        found = _lookup(wanted)
        self.ids.update(found.ids)
        self.activations.update(found.activations)
        self.absent.update(wanted.difference(found.ids))

    def _day(self, text: str) -> int:
        """The ordinal of a day in the usual spelling within the days taken, else -1 (the full checks)."""
        if len(text) != 10 or not (self.first <= text <= self.last) or not _ISO_DAY.match(text):
            return -1
        try:
            return dt.date.fromisoformat(text).toordinal()
        except ValueError:
            return -1

    def take(self, chunk: _Chunk) -> tuple[Batch, list[tuple[importing.Row, str]], int, int]:
        """(the batch to write, the rejected rows with their reasons in file order, rows counted,
        duplicates). The quick checks are whole-column operations; a line that fails any of them gets the
        imports' full row checks, which give the reason."""
        msisdn, date, voice, data, sms = chunk.columns
        n = len(chunk)
        for text in set(date).difference(self.days):
            self.days[text] = self._day(text)
        found = _lookup_columns(msisdn)
        if found is None:  # a cell holding a comma (XLSX, PostgreSQL): through the run's dicts
            self._know(msisdn)
            ids = np.fromiter(map(self.ids.get, msisdn, itertools.repeat(-1)), np.int64, n)
            activated = np.fromiter(map(self.activations.get, msisdn, itertools.repeat(_LATEST)), np.int64, n)
        else:
            ids, activated = found
        day = np.fromiter(map(self.days.__getitem__, date), np.int64, n)
        amounts = [_whole_numbers(column) for column in (voice, data, sms)]
        quick = (ids >= 0) & (day >= 0) & (day >= activated)
        for values, limit in zip(amounts, DAY_LIMITS.values(), strict=True):
            quick &= (values >= 0) & (values <= limit)

        rejected: list[tuple[importing.Row, str]] = []
        slow: list[tuple[int, Clean, importing.Row]] = []
        blank = 0
        for i in np.flatnonzero(~quick).tolist():
            row = chunk.row(i)
            if row is None:
                blank += 1
                continue
            try:
                if row.error:
                    raise RowError(row.error)
                slow.append((i, self.clean_row(row.values), row))
            except RowError as exc:
                rejected.append((row, exc.reason))
        self._know(clean[0] for _i, clean, _row in slow)
        extra: list[tuple[int, int, int, int, int, int]] = []
        for i, clean, row in slow:
            try:
                customer_id, ordinal = _place(clean, self.known)
            except RowError as exc:
                rejected.append((row, exc.reason))
                continue
            extra.append((i, customer_id, ordinal, clean[2], clean[3], clean[4]))

        index = np.flatnonzero(quick)
        columns = [ids[index], day[index], *(values[index] for values in amounts)]
        if extra:
            more = np.array(extra, dtype=np.int64)
            index = np.concatenate([index, more[:, 0]])
            columns = [np.concatenate([column, more[:, k + 1]]) for k, column in enumerate(columns)]
        batch, duplicates = _last_of_each(index, columns)
        rejected.sort(key=lambda entry: entry[0].line)  # in file order
        return batch, rejected, n - blank, duplicates


def _last_of_each(index: Int64Array, columns: list[Int64Array]) -> tuple[Batch, int]:
    """The batch of these rows (at file positions `index`), keeping the last row of each customer-day;
    and how many rows that dropped (the duplicates)."""
    keys = (columns[0] << 20) | columns[1]  # customer id and day ordinal (< 2^20 until the year 2870)
    order = np.argsort(index, kind="stable")[::-1]  # last in the file first
    unique, first = np.unique(keys[order], return_index=True)  # sorted by customer and day
    kept = order[first]
    batch = Batch(*(np.ascontiguousarray(column[kept]) for column in columns))
    return batch, len(keys) - len(unique)


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
    one chunk of the file (CHUNK rows) the last row of a customer-day wins and the rows before it count as
    duplicates. Rejected rows go to the error file beside the input with their reason. Raises UnusableFile
    for the file as a whole. Ends by pruning what is no longer kept (usage_prune).
    """
    now = now or clock.now()
    today = clock.local_date(now)
    table = importing.open_table(path, required=USAGE_REQUIRED)
    writer = importing.CsvErrorWriter(table)
    result = ImportResult(kind="usage", path=str(table.path))
    source = f"import:usage:{table.path.name}"
    reader = _Reader(today=today, earliest=day_horizon(today))
    done = 0
    plain = _plain_csv(table)
    with _writes(source=source) as write:
        for chunk in _chunks_of(table, plain):
            batch, rejected, counted, duplicates = reader.take(chunk)
            write(batch)
            result.total += counted
            result.duplicates += duplicates
            for row, reason in rejected:
                writer.write(row, reason)
                result.rejected += 1
            done += len(chunk)
            if on_progress is not None:
                on_progress(done, table.estimated_rows)
    result.created, result.updated, result.unchanged = write.totals
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
    customer_id, ordinal = _place(clean, _lookup([clean[0]]))
    batch = Batch(*(np.array([value], dtype=np.int64) for value in (customer_id, ordinal, *clean[2:])))
    who = getattr(recorded_by, "username", None)
    created, updated, _unchanged = _write(batch, source=f"{source}:{who}" if who else source)
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


# --- the catalogue of offers (增值业务与优惠包) -------------------------------------------------------------


def _offer_rows() -> list[dict[str, Any]]:
    items = yaml.safe_load((Path(__file__).parent / "data" / "offers.yaml").read_text(encoding="utf-8"))
    return [
        {
            "code": str(item["code"]), "name": str(item["name"]), "kind": str(item["kind"]),
            "price": Decimal(str(item["price"])), "amount": int(item["amount"]),
            "trigger_percent": int(item["trigger_percent"]), "rank": int(item["rank"]), "pitch": str(item["pitch"]),
        }
        for item in items
    ]  # fmt: skip


def offers_install(*, installed_by: Any = None) -> dict[str, int]:
    """Install the shipped offers (usage/data/offers.yaml) that are missing; never overwrite one an operator
    edited or switched off. {"created", "unchanged", "edited"}; idempotent (`onboard90 init`)."""
    with transaction.atomic():
        counts = install_rows(Offer, _offer_rows(), key=("code",))
        if counts["created"]:
            audit_record(actor=installed_by, verb="offers.install", object_type="usage.offer", after=counts)
    return counts
