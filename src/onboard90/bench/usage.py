"""`onboard90 bench usage --rows N`: the usage import against the database's raw bulk-write rate.

    build customers (bulk)   enough customers for N rows over `days` days (a day's file holds a row each)
    write the file           N rows `msisdn, date, voice_min, data_mb, sms` as a UTF-8 CSV, as BSS drops it
    time the import          `usage_import` on it: reading, checking every row, staging, upserting days,
                             recomputing months, the error file, pruning — the whole command's work
    time the baseline        N rows written raw (PostgreSQL COPY, SQLite executemany) into an empty table of
                             the same shape as the day rows (columns, unique key, indexes, foreign key)

The judge is the ratio of the two rates measured in the same run (target >= 0.5). See docs/PERFORMANCE.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from django.db import connection, transaction

from onboard90.bench.services import database_label, peak_rss_mb, prepare_database
from onboard90.catalog.models import Package
from onboard90.core import clock
from onboard90.core.bulk import insert_objects
from onboard90.customers.models import Customer
from onboard90.org.enums import UnitKind
from onboard90.org.models import Unit
from onboard90.usage.models import UsageDay
from onboard90.usage.services import usage_import

TARGET_RATIO = 0.5
BASELINE_TABLE = "bench_baseline_usageday"


def build_customers(*, count: int, today: dt.date, seed: int) -> list[str]:
    """`count` post-paid customers activated 60 days ago in the stores of every city; their numbers."""
    rng = np.random.default_rng(seed)
    stores = list(Unit.objects.filter(kind=UnitKind.STORE).values_list("id", "city_id"))
    packages = list(Package.objects.filter(product="postpaid", active=True).values_list("id", flat=True))
    activated_on = today - dt.timedelta(days=60)
    activated_at = clock.at_local(activated_on, 10)
    picks = rng.integers(0, len(stores), count).tolist()
    chosen = rng.integers(0, len(packages), count).tolist()
    numbers = [f"186{i:08d}" for i in range(1, count + 1)]
    customers = (
        Customer(
            msisdn=numbers[i],
            city_id=stores[picks[i]][1],
            store_id=stores[picks[i]][0],
            activated_at=activated_at,
            activated_on=activated_on,
            product="postpaid",
            package_id=packages[chosen[i]],
        )
        for i in range(count)
    )
    with transaction.atomic():
        insert_objects(Customer, customers)
    return numbers


def write_file(path: Path, *, numbers: list[str], rows: int, today: dt.date, seed: int) -> int:
    """N usage rows: the customers' days back from yesterday, heavy and light users alike."""
    rng = np.random.default_rng(seed + 1)
    voice = rng.poisson(rng.gamma(2.0, 6.0, rows)).clip(0, 1440)
    data = rng.lognormal(2.5, 1.2, rows).round().astype(np.int64).clip(0, 1_000_000)
    sms = rng.poisson(2.0, rows)
    per_day = len(numbers)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["msisdn", "date", "voice_min", "data_mb", "sms"])
        for i in range(rows):
            day = today - dt.timedelta(days=1 + i // per_day)
            writer.writerow((numbers[i % per_day], day.isoformat(), int(voice[i]), int(data[i]), int(sms[i])))
    return rows


def baseline(*, rows: int, customer_ids: list[int], today: dt.date) -> dict[str, Any]:
    """A raw bulk write of `rows` rows into an empty table shaped like usage_usageday."""
    table = BASELINE_TABLE
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name='usage_usageday' AND sql IS NOT NULL"
            )
            for (statement,) in cursor.fetchall():
                statement = statement.replace("usage_usageday", table)
                if statement.startswith("CREATE") and " INDEX " in statement:
                    statement = statement.replace('INDEX "', f'INDEX "{table}_', 1)
                cursor.execute(statement)
        else:
            # Same columns, indexes and unique key; and the same deferred foreign key (LIKE copies none).
            cursor.execute(f"CREATE TABLE {table} (LIKE usage_usageday INCLUDING ALL)")
            cursor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {table}_customer_fk FOREIGN KEY (customer_id) "
                "REFERENCES customers_customer (id) DEFERRABLE INITIALLY DEFERRED"
            )
    per_day = len(customer_ids)
    pg = connection.vendor == "postgresql"
    data = [
        (customer_ids[i % per_day], (today - dt.timedelta(days=1 + i // per_day)) if pg
         else (today - dt.timedelta(days=1 + i // per_day)).isoformat(), i % 97, i % 1013, i % 7, 1)
        for i in range(rows)
    ]  # fmt: skip
    cols = "customer_id, day, voice_min, data_mb, sms, load_id"
    started = time.perf_counter()
    with transaction.atomic():
        if pg:
            with (
                connection.cursor() as cursor,
                cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy,
            ):
                for row in data:
                    copy.write_row(row)
        else:
            connection.connection.executemany(f"INSERT INTO {table} ({cols}) VALUES (?, ?, ?, ?, ?, ?)", data)
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {table}")
    return {"rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds)}


def run(*, rows: int, days: int = 7, seed: int = 2012, force: bool = False) -> dict[str, Any]:
    """Build, write, import, baseline. Returns the figures (the database is emptied and rebuilt first)."""
    if rows < 1:
        raise ValueError("--rows 必须为正数 / must be at least 1")
    if not 1 <= days <= 28:
        raise ValueError("--days 取 1 到 28 / must be between 1 and 28 (the days still held)")
    today = clock.today()
    prepare_database(reset=True, force=force)
    customers = math.ceil(rows / days)
    started = time.perf_counter()
    numbers = build_customers(count=customers, today=today, seed=seed)
    if connection.vendor == "postgresql":
        # The customers as a day's import finds them in service, settled (their rows' commit status recorded
        # on the pages, statistics taken): else the import would pay for setting those bits on every page it
        # probes, and the baseline, which runs after it, would not.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE customers_customer")
    build_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="onboard90-bench-usage-") as tmp:
        path = Path(tmp) / "usage.csv"
        write_file(path, numbers=numbers, rows=rows, today=today, seed=seed)
        size_mb = path.stat().st_size / 2**20
        started = time.perf_counter()
        result = usage_import(path=path)
        import_s = time.perf_counter() - started
    if result.rejected or result.created != rows:
        raise RuntimeError(f"the bench's own file did not import cleanly: {result.as_dict()}")
    ids = list(Customer.objects.order_by("id").values_list("id", flat=True))
    base = baseline(rows=rows, customer_ids=ids, today=today)
    rate = round(rows / import_s)
    ratio = round(rate / base["rows_per_s"], 3)
    return {
        "rows": rows,
        "customers": customers,
        "days": days,
        "database": connection.vendor,
        "database_location": database_label(),
        "file_mb": round(size_mb, 1),
        "build_s": round(build_s, 1),
        "import_s": round(import_s, 3),
        "import_rows_per_s": rate,
        "baseline": base,
        "baseline_rows_per_s": base["rows_per_s"],
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "met": ratio >= TARGET_RATIO,
        "day_rows": UsageDay.objects.count(),
        "peak_rss_mb": peak_rss_mb(),
        "date": today.isoformat(),
    }
