"""`onboard90 bench cycle`: build a province of open journeys in bulk, then time the daily cycle on it.

    prepare_database(reset=True)      empty/rebuild the database (refuses one holding non-bench customers)
    build_state(journeys=…, …)        customers, journeys and their past acts/tasks/SMS/escalations (bulk)
    time_cycles(…)                    one or more daily cycles, the outbox dispatch, the raw-insert baseline

See docs/PERFORMANCE.md for the commands and the figures.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import math
import os
import pickle
import resource
import sys
import tempfile
import time
import traceback
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from onboard90.bench import feed, generator
from onboard90.bench.workers import CycleWorkers
from onboard90.catalog.models import Package, VipTier
from onboard90.core import clock
from onboard90.core.bulk import insert_select
from onboard90.core.partitions import partitions_ensure, partitions_list
from onboard90.core.services import scratch_mark
from onboard90.customers.models import Customer, CustomerChange
from onboard90.installation import install_reference_data
from onboard90.journeys.changes import facts_digest
from onboard90.journeys.cycle import cycle_run
from onboard90.journeys.enums import CycleStatus
from onboard90.journeys.models import CycleRun, Task
from onboard90.journeys.rules.assignment import UNIT_FIELDS, UnitRow
from onboard90.journeys.selectors import versions_in_use
from onboard90.journeys.signals import acts_moved
from onboard90.messaging.gateways import NullGateway
from onboard90.messaging.services import outbox_dispatch
from onboard90.org.models import City, StaffProfile, Unit
from onboard90.org.services import staff_add
from onboard90.playbook.selectors import current_version, playbook_of
from onboard90.reporting.models import FigureRefresh
from onboard90.reporting.services import figures_rebuild

MARKER_TABLE = "onboard90_bench_marker"
BIG_TABLES = (
    "customers_customer", "journeys_journey", "customers_bill", "journeys_journeyaction", "journeys_task",
    "messaging_outboxmessage", "journeys_escalation",
)
WRITTEN_TABLES = ("journeys_journeyaction", "journeys_task", "messaging_outboxmessage", "journeys_escalation")
Progress = Callable[[str, int, int], None]


def _no_progress(label: str, done: int, total: int) -> None:
    return None


class BenchRefused(ValueError):
    """The database holds data that is not the bench's own."""


# --- the database ---------------------------------------------------------------------------------------


def database_label() -> str:
    config = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        return f"sqlite:{config['NAME']}"
    host = config.get("HOST") or "localhost"
    port = f":{config['PORT']}" if config.get("PORT") else ""
    return f"postgresql:{host}{port}/{config['NAME']}"


def _tables() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def foreign_customers() -> int:
    """Customers on file in a database the bench did not build (0 when it did, or when there are none)."""
    tables = _tables()
    if "customers_customer" not in tables or MARKER_TABLE in tables:
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer")
        return cursor.fetchone()[0]


def prepare_database(*, reset: bool, force: bool = False) -> None:
    """Make the database the bench's: refuse one with other customers (unless force), rebuild it if asked,
    and install what `onboard90 init` installs."""
    found = foreign_customers()
    if found and not force:
        raise BenchRefused(
            f"数据库 {database_label()} 中已有 {found} 个非基准测试客户，拒绝清空 / the database holds {found} "
            "customers the bench did not create; it would be emptied. Point DATABASE_URL at a scratch "
            "database, or pass --force to empty it anyway."
        )
    if reset:
        _wipe()
        call_command("migrate", interactive=False, verbosity=0)
    elif found:
        raise BenchRefused("--force needs a rebuild (reset) to empty the database")
    install_reference_data()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (built_at VARCHAR(40) NOT NULL)")
        cursor.execute(f"DELETE FROM {MARKER_TABLE}")
        cursor.execute(f"INSERT INTO {MARKER_TABLE} (built_at) VALUES (%s)", [clock.now().isoformat()])

    scratch_mark(purpose="bench")  # its days run on a simulated clock (core.clock.simulated)


def _wipe() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE")
            cursor.execute("CREATE SCHEMA public")
        return
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or name.startswith("file:"):
        raise BenchRefused("the bench rebuilds a SQLite database file, not an in-memory one")
    connection.close()
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(name + suffix).unlink(missing_ok=True)
    Path(name).parent.mkdir(parents=True, exist_ok=True)


# --- staff and reference lookups --------------------------------------------------------------------------


def staff_phone(username: str) -> str:
    """A bench staff member's work phone: an 11-digit 186 number, always the same for the same username."""
    return f"186{zlib.crc32(username.encode()) % 10**8:08d}"


def staff_install(*, journeys: int) -> dict[str, int]:
    """A supervisor per city and enough account managers for its VIPs (about 400 open VIPs each)."""
    cities = list(City.objects.order_by("sort_order", "id"))
    total_weight = sum(c.weight for c in cities) or 1
    added = {"supervisors": 0, "account_managers": 0}
    existing = set(StaffProfile.objects.values_list("user__username", flat=True))
    for city in cities:
        vips = journeys * generator.VIP_SHARE * city.weight / total_weight
        wanted = [(f"bench-sup-{city.code}", "supervisor")] + [
            (f"bench-am-{city.code}-{i}", "account_manager") for i in range(1, max(2, math.ceil(vips / 400)) + 1)
        ]
        for username, role in wanted:
            if username in existing:
                continue
            phone = staff_phone(username) if role == "account_manager" else ""
            staff_add(username=username, role=role, city=city, display_name=username, phone=phone)
            added["supervisors" if role == "supervisor" else "account_managers"] += 1
    return added


def reference(today: dt.date) -> generator.Reference:
    cities = list(City.objects.order_by("id").values_list("id", "code", "weight"))
    stores: dict[int, list[int]] = {}
    units: dict[int, list[UnitRow]] = {}  # city id -> its units, among which the assignment rule picks owners
    for city_id, uid, kind, is_main in Unit.objects.order_by("-is_main", "id").values_list("city_id", *UNIT_FIELDS):
        if kind == "store":
            stores.setdefault(city_id, []).append(uid)
        units.setdefault(city_id, []).append((uid, kind, is_main))
    managers: dict[int, list[int]] = {}
    supervisors: dict[int, int | None] = {}
    for user_id, city_id, role in StaffProfile.objects.filter(active=True).order_by("id").values_list(
        "user_id", "city_id", "role"
    ):
        if role == "account_manager":
            managers.setdefault(city_id, []).append(user_id)
        elif role == "supervisor":
            supervisors.setdefault(city_id, user_id)
    packages = {
        p["code"]: p for p in Package.objects.values("id", "code", "family", "product", "monthly_fee")
    }
    tiers = list(VipTier.objects.order_by("rank").values_list("id", "code", "rank"))
    version = current_version()
    return generator.Reference(
        today=today, city_ids=np.array([c[0] for c in cities]), city_weights=np.array([c[2] for c in cities]),
        city_codes=[c[1] for c in cities], stores_by_city=stores, units_by_city=units,
        managers_by_city=managers, supervisor_by_city=supervisors, packages=packages, tiers=tiers,
        playbook=playbook_of(version), version_id=version.pk,
    )


# --- bulk loading ----------------------------------------------------------------------------------------


class _Loader:
    """Writes generator tables: SQLite executemany in big transactions, PostgreSQL COPY."""

    def __init__(self, *, fast: bool):
        self.vendor = connection.vendor
        self.fast = fast  # a fresh scratch database: no journal, no FK checks while loading
        self.saved: list[tuple[str, str]] = []  # (drop, create) statements of the dropped indexes

    def __enter__(self):
        connection.ensure_connection()
        raw = connection.connection
        if self.vendor == "sqlite":
            if self.fast:
                raw.execute("PRAGMA foreign_keys=OFF")
                raw.execute("PRAGMA journal_mode=OFF")
                raw.execute("PRAGMA synchronous=OFF")
            raw.execute("PRAGMA cache_size=-65536")  # 64 MiB while loading
        else:
            with connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = replica")  # no FK triggers while loading
                cursor.execute("SET maintenance_work_mem = '512MB'")
        self._drop_indexes()
        return self

    def __exit__(self, *exc):
        self._restore_indexes()
        raw = connection.connection
        if self.vendor == "sqlite":
            raw.execute("PRAGMA cache_size=-2000")
            if self.fast:
                raw.execute("PRAGMA journal_mode=WAL")
                raw.execute("PRAGMA synchronous=NORMAL")
                raw.execute("PRAGMA foreign_keys=ON")
        else:
            with connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = DEFAULT")
                cursor.execute("RESET maintenance_work_mem")

    def _drop_indexes(self) -> None:
        with connection.cursor() as cursor:
            for table in BIG_TABLES:
                if self.vendor == "sqlite":
                    cursor.execute(
                        "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name=%s AND sql IS NOT NULL",
                        [table],
                    )
                    for name, sql in cursor.fetchall():
                        self.saved.append((f'DROP INDEX "{name}"', sql))
                else:
                    cursor.execute(
                        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conrelid = %s::regclass AND contype = 'u'",
                        [table],
                    )
                    constraints = cursor.fetchall()
                    for name, definition in constraints:
                        self.saved.append(
                            (f'ALTER TABLE {table} DROP CONSTRAINT "{name}"',
                             f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                        )
                    cursor.execute(
                        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE %s",
                        [table, "%_pkey"],
                    )
                    taken = {c[0] for c in constraints}
                    for name, definition in cursor.fetchall():
                        if name not in taken:
                            # A partitioned table's index reads "ON ONLY" (its parent alone); made again on
                            # the whole table, every partition gets it.
                            self.saved.append((f'DROP INDEX "{name}"', definition.replace(" ON ONLY ", " ON ")))
            for drop, _create in self.saved:
                cursor.execute(drop)

    def _restore_indexes(self) -> None:
        with connection.cursor() as cursor:
            for _drop, create in self.saved:
                cursor.execute(create)
        self.saved = []

    def write(self, table: generator.Table, progress: Callable[[int], None]) -> None:
        cols = ", ".join(table.columns)
        if self.vendor == "sqlite":
            raw = connection.connection
            sql = f"INSERT INTO {table.name} ({cols}) VALUES ({', '.join('?' * len(table.columns))})"
            for chunk in table.rows():
                raw.executemany(sql, chunk)
                progress(len(chunk))
            return
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:
                for chunk in table.rows():
                    for row in chunk:
                        copy.write_row(row)
                    progress(len(chunk))


def _reset_sequences() -> None:
    if connection.vendor != "postgresql":
        return  # SQLite's AUTOINCREMENT follows explicit ids by itself
    with connection.cursor() as cursor:
        for table in BIG_TABLES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT max(id) FROM {table}), 0) + 1, "
                "false)"
            )


def _next_id() -> int:
    with connection.cursor() as cursor:
        top = 0
        for table in ("customers_customer", "journeys_journey"):
            cursor.execute(f"SELECT COALESCE(max(id), 0) FROM {table}")
            top = max(top, cursor.fetchone()[0])
        return top + 1


def build_state(
    *, journeys: int, daily: int | None, today: dt.date, seed: int = 2012, horizon: int = 1, fast: bool = False,
    progress: Progress = _no_progress, usage: bool = False,
) -> generator.Built:
    """Load `journeys` open journeys as the cycles up to yesterday left them (see bench.generator); with
    `usage`, the usage feed those cycles consumed (`bench.feed`)."""
    staff_install(journeys=journeys)
    ref = reference(today)
    built = generator.Built()
    first_id = _next_id()
    with connection.cursor() as cursor:
        for table in WRITTEN_TABLES + ("customers_bill",):
            cursor.execute(f"SELECT COALESCE(max(id), 0) FROM {table}")
            if cursor.fetchone()[0]:
                raise BenchRefused(f"{table} is not empty: the bench builds into an empty database")
    estimate = journeys * 20
    done = 0

    def step(rows: int) -> None:
        nonlocal done
        done += rows
        progress("build", done, max(estimate, done))

    # PostgreSQL: the acts', tasks' and messages' ranges of customer ids, past every customer the build and
    # the days after it will add (bench ids follow arrival from `first_id`).
    partitions_ensure(newest=first_id + journeys + (daily or journeys // generator.JOURNEY_AGES + 1) * (horizon + 1))
    with _Loader(fast=fast) as loader, transaction.atomic():
        for table in generator.build(
            ref, built, n=journeys, daily=daily, vendor=connection.vendor, seed=seed, first_id=first_id,
            horizon=horizon, block=generator.BLOCK,
        ):
            loader.write(table, step)

        digest = facts_digest(versions_in_use())  # as the cycles that left this state would have recorded it
        CycleRun.objects.bulk_create([
            CycleRun(
                as_of=clock.cycle_instant(today - dt.timedelta(days=d)),
                started_at=clock.cycle_instant(today - dt.timedelta(days=d)),
                finished_at=clock.cycle_instant(today - dt.timedelta(days=d)) + dt.timedelta(minutes=1),
                status=CycleStatus.FINISHED, counts={"bench": "built"}, digest=digest,
            )
            for d in range(generator.JOURNEY_AGES + 1, 0, -1)
        ])
        # The change log as those cycles left it: the lines of what changed before the last of them started
        # were consumed by them (and pruned), the customers changed since (this morning's loads and ratings)
        # are waiting for the measured cycle. SQLite's triggers fired while loading, PostgreSQL loaded with
        # them off: the lines are written here, the same on both.
        CustomerChange.objects.all().delete()
        last = CycleRun.objects.order_by("-as_of").first()
        insert_select(
            CustomerChange, ["customer_id"],
            Customer.objects.filter(updated_at__gte=last.started_at).order_by("pk").values_list("pk"),
        )
    progress("build", done, done)
    _reset_sequences()
    if usage:
        built.counts["usage_history_rows"] = feed.history(today=today, seed=seed)
    _analyze()
    # The dashboard's cells as yesterday's cycle left them: the measured cycle advances them by its own day.
    figures_rebuild(as_of=last.as_of)
    return built


def _analyze() -> None:
    """PostgreSQL: what autovacuum would have done to tables this old (statistics, visibility map), and the
    checkpoint the server would have taken since: otherwise the measured cycle shares the disk and the
    buffer cache with the writing out of the gigabytes just loaded, which a day-old database is not doing."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in BIG_TABLES:
            cursor.execute(f"{'ANALYZE' if connection.in_atomic_block else 'VACUUM (ANALYZE)'} {table}")
        if not connection.in_atomic_block:
            # Needs a superuser or pg_checkpoint; without it the next scheduled checkpoint does the same.
            with contextlib.suppress(DatabaseError):
                cursor.execute("CHECKPOINT")


def autoanalyze() -> list[str]:
    """PostgreSQL: the ANALYZE autovacuum would have run in the day between two cycles — on every table (or
    partition) changed by more than its threshold since its last one (50 rows plus a tenth of it, the server's
    settings) — when the server runs without autovacuum. A range of customers that was empty yesterday and
    holds today's new customers is one: without it the planner would still take it for empty."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('autovacuum') = 'on'")
        if cursor.fetchone()[0]:
            return []
        cursor.execute(
            "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
            "WHERE s.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::float "
            "+ current_setting('autovacuum_analyze_scale_factor')::float * greatest(c.reltuples, 0) ORDER BY 1"
        )
        tables = [name for (name,) in cursor.fetchall()]
        for table in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    return tables


def staff_work(*, until: dt.datetime, at: dt.datetime) -> dict[str, int]:
    """Between the cycles of a --days run, staff work as the build assumed: 80 % of the open tasks due
    before the next cycle are done on time, a fifth of the overdue ones late (set-based; untimed). As the
    staff's own completions do (`journeys.services`), the work moves the dashboard's cells in its transaction
    (`acts_moved`), so the next cycle's advance of the figures finds only what the cycle itself changed."""
    done = {}
    moved: list[tuple[int, str, str]] = []
    with transaction.atomic(), connection.cursor() as cursor:
        for status, where, params in (
            ("done", "status = 'open' AND due_at < %s AND (id %% 10) < 8", [until]),
            ("done_late", "status = 'overdue' AND (id %% 5) = 0", []),
        ):
            acts = f"SELECT action_id FROM journeys_task WHERE kind = 'act' AND {where}"
            cursor.execute(f"SELECT id, status FROM journeys_journeyaction WHERE id IN ({acts})", params)
            moved += [(pk, before, status) for pk, before in cursor.fetchall()]
            cursor.execute(
                f"UPDATE journeys_journeyaction SET status = %s, closed_at = %s WHERE id IN ({acts})",
                [status, at, *params],
            )
            cursor.execute(
                f"UPDATE journeys_task SET status = %s, completed_at = %s, attempts = attempts + 1, "
                f"outcome = 'reached' WHERE kind = 'act' AND {where}",
                [status, at, *params],
            )
            done[status] = cursor.rowcount
        acts_moved.send(sender=Task, changes=moved)
    return done


def arrive(built: generator.Built, day: int) -> None:
    """Before a later cycle of a --days run: its new customers arrive, ratings and first bills come in."""
    events = built.future.get(day)
    if not events:
        return
    loader = _Loader(fast=False)
    with transaction.atomic():
        for key, table in (("customers", "customers_customer"), ("journeys", "journeys_journey")):
            cols, rows = events[key]
            loader.write(generator.Table(table, cols, rows), lambda _n: None)
        with connection.cursor() as cursor:
            # Stamped like the imports' updates: the next cycle looks at the customers changed since.
            for chunk in events["vip"]():
                cursor.executemany(
                    "UPDATE customers_customer SET vip_tier_id = %s, vip_rated_at = %s, vip_rated_on = %s, "
                    "updated_at = %s WHERE id = %s",
                    [(tier, at, on, at, pk) for tier, at, on, pk in chunk],
                )
            for chunk in events["bills"]():
                cursor.executemany(
                    "UPDATE customers_customer SET first_bill_at = %s, first_bill_on = %s, updated_at = %s WHERE id = %s",
                    [(at, on, at, pk) for at, on, pk in chunk],
                )
    _reset_sequences()


# --- measuring -----------------------------------------------------------------------------------------


def _counts(tables=WRITTEN_TABLES) -> dict[str, int]:
    out = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {table}")
            out[table] = cursor.fetchone()[0]
    return out


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


def time_cycle(
    *, day: dt.date, dispatch: bool = True, settle: bool = False, workers: CycleWorkers | None = None
) -> dict[str, Any]:
    """One daily cycle as of `day` (dispatch=False) — in this process, or fanned out over `workers` — then the
    outbox dispatch on its own (timed when `dispatch`; run untimed when only `settle`, so that a next day
    starts from a dispatched outbox)."""
    as_of = clock.cycle_instant(day)
    before = _counts()
    started = time.perf_counter()
    run = workers.cycle(as_of=as_of) if workers is not None else cycle_run(as_of=as_of, dispatch=False)
    cycle_s = time.perf_counter() - started
    after = _counts()
    inserted = {t: after[t] - before[t] for t in WRITTEN_TABLES}
    result: dict[str, Any] = {
        "date": day.isoformat(),
        "due_rows": run.counts.get("opened", 0) + run.counts.get("missed", 0),
        "cycle_s": round(cycle_s, 3),
        "rows_written": sum(inserted.values()),
        "rows_per_s": round(sum(inserted.values()) / cycle_s) if cycle_s else None,
        "inserted": {t.split("_", 1)[1]: v for t, v in inserted.items()},
        "counts": run.counts,
        # Part of cycle_s: the dashboard's precomputed figures, advanced at the end of every cycle.
        "figures_s": _figures_s(as_of),
    }
    if dispatch or settle:
        current = playbook_of(current_version())
        quiet = current.quiet_hours
        started = time.perf_counter()
        sent = outbox_dispatch(
            as_of=as_of, quiet_hours=(quiet.start, quiet.end), gateway=NullGateway(), daily_limit=current.sms_daily_limit
        )
        if dispatch:
            result["dispatch_s"] = round(time.perf_counter() - started, 3)
            result["dispatch"] = sent
    return result


def _figures_s(as_of: dt.datetime) -> float | None:
    refresh = FigureRefresh.objects.filter(as_of=as_of).order_by("-id").first()
    return refresh.seconds if refresh else None


def baseline(*, rows: int) -> dict[str, Any]:
    """A raw bulk insert of `rows` rows into an empty table shaped like journeys_journeyaction."""
    rows = max(rows, 1)
    table = "bench_baseline_action"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        if connection.vendor == "sqlite":
            cursor.execute("SELECT sql FROM sqlite_master WHERE tbl_name='journeys_journeyaction' AND sql IS NOT NULL")
            statements = [s.replace("journeys_journeyaction", table) for (s,) in cursor.fetchall()]
            statements = [
                s.replace('INDEX "', f'INDEX "{table}_', 1) if s.startswith("CREATE") and " INDEX " in s else s
                for s in statements
            ]
            for statement in statements:
                cursor.execute(statement)
        else:
            # Same columns, defaults, indexes and unique constraint, partitioned by the same ranges of customer
            # ids; and the same deferred foreign key to journeys (LIKE does not copy foreign keys; the SQLite
            # copy of the DDL has it). Its ids from a sequence of its own, not the acts' one.
            cursor.execute(
                f"CREATE TABLE {table} (LIKE journeys_journeyaction INCLUDING ALL) PARTITION BY RANGE (customer_id)"
            )
            cursor.execute(f"CREATE SEQUENCE {table}_id_seq OWNED BY {table}.id")
            cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq')")
            for i, part in enumerate(p for p in partitions_list() if p.table == "journeys_journeyaction"):
                bounds = "DEFAULT" if part.low is None else f"FOR VALUES FROM ({part.low}) TO ({part.high})"
                cursor.execute(f"CREATE TABLE {table}_{i} PARTITION OF {table} {bounds}")
            cursor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {table}_journey_fk FOREIGN KEY (journey_id) "
                "REFERENCES journeys_journey (id) DEFERRABLE INITIALLY DEFERRED"
            )
        cursor.execute("SELECT COALESCE(max(id), 0) FROM journeys_journey")
        journeys = max(cursor.fetchone()[0], 1)
    pg = connection.vendor == "postgresql"
    stamp = "2026-01-01 01:00:00+00" if pg else "2026-01-01 01:00:00"
    # The bench's journeys and customers share their ids (bench.generator).
    data = [
        (i % journeys + 1, i % journeys + 1, f"baseline_{i // journeys}", 0, 1, "open", "2026-01-01", "2026-01-04",
         stamp, stamp, None, "")
        for i in range(rows)
    ]
    cols = "journey_id, customer_id, action_code, occurrence, stage, status, window_start, window_end, due_at, " \
           "opened_at, closed_at, reason"
    started = time.perf_counter()
    with transaction.atomic():
        if pg:
            with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in data:
                    copy.write_row(row)
        else:
            connection.connection.executemany(
                f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * 12)})", data
            )
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {table}")
    return {"baseline_rows": rows, "baseline_s": round(seconds, 3), "baseline_rows_per_s": round(rows / seconds)}


def run(
    *, journeys: int, daily: int | None = None, days: int = 1, today: dt.date | None = None, seed: int = 2012,
    reset: bool = True, force: bool = False, dispatch: bool = True, progress: Progress = _no_progress,
    fork: bool = True, workers: int = 0, usage: bool = False,
) -> dict[str, Any]:
    """The whole bench: prepare, build, time `days` cycles (and dispatch), the baseline. Returns the figures.
    With `workers`, each cycle is fanned out over that many Celery worker processes (`bench.workers`); with
    `usage`, a usage feed arrives before each cycle (`bench.feed`)."""
    if journeys < 1:
        raise ValueError("--journeys 必须为正数 / must be at least 1")
    if days < 1 or days > 7:
        raise ValueError("--days 取 1 到 7 / must be between 1 and 7")
    if not 0 <= workers <= 8:
        raise ValueError("--workers 取 0 到 8 / must be between 0 and 8")
    today = today or clock.today()
    prepare_database(reset=reset, force=force)
    started = time.perf_counter()
    build = dict(
        journeys=journeys, daily=daily, today=today, seed=seed, horizon=days, fast=reset, progress=progress,
        usage=usage,
    )
    if fork and reset and hasattr(os, "fork"):  # a scratch database the child can commit to
        built, build_rss = _build_in_child(build)
    else:
        built, build_rss = build_state(**build), None
    build_s = time.perf_counter() - started
    per_day = []
    # Each cycle runs at its own instant, as the scheduler starts it, not at the bench's wall-clock time
    # (hours or days before the cycles of T and after). The delta a cycle looks at is what changed since
    # the previous one started (changes.Since): stamped by the wall clock, the cycle of T+1 would also take
    # in the changes of T that the cycle of T had seen already, T+2 those of two days, and so on.
    fanned = CycleWorkers(workers) if workers else contextlib.nullcontext()
    with fanned as on_workers, clock.simulated(clock.cycle_instant(today)) as wall:
        for i in range(days):
            day = today + dt.timedelta(days=i)
            if i:
                previous = clock.cycle_instant(day - dt.timedelta(days=1))
                wall.at = previous + dt.timedelta(hours=6)
                staff_work(until=clock.cycle_instant(day), at=wall.at)
                arrive(built, i)
                autoanalyze()
            delivered = {}
            if usage:
                delivered = feed.deliver(day=day, seed=seed)
                autoanalyze()  # the night's file changed every customer's month: as autovacuum would by morning
            wall.at = clock.cycle_instant(day)
            progress("cycle", i, days)
            per_day.append(time_cycle(day=day, dispatch=dispatch, settle=days > 1, workers=on_workers) | delivered)
        worker_rss = on_workers.peak_rss_mb() if on_workers is not None else None
    progress("cycle", days, days)
    first = per_day[0]
    base = baseline(rows=first["rows_written"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM journeys_journeyaction")
        actions_on_file = cursor.fetchone()[0]
    result: dict[str, Any] = {
        "journeys": journeys,
        "due_rows": first["due_rows"],
        "cycle_s": first["cycle_s"],
        "figures_s": first["figures_s"],
        "rows_written": first["rows_written"],
        "rows_per_s": first["rows_per_s"],
        "baseline_rows_per_s": base["baseline_rows_per_s"],
        "peak_rss_mb": peak_rss_mb(),
        "database": connection.vendor,
        "database_location": database_label(),
        "build_s": round(build_s, 1),
        "build_peak_rss_mb": build_rss,
        "workers": workers,
        "worker_peak_rss_mb": worker_rss,
        "usage": usage,
        "dispatch_s": first.get("dispatch_s"),
        "daily": daily if daily is not None else journeys // generator.JOURNEY_AGES,
        "date": today.isoformat(),
        "built": built.counts,
        "actions_on_file": actions_on_file,
        "expected_due": built.expected_due,
        "baseline": base,
        "days": per_day,
    }
    return result


def _build_in_child(build: dict[str, Any]) -> tuple[generator.Built, float | None]:
    """build_state in a forked child, so the measured process's peak memory is the cycle's own.

    The child hands back the counts and the later days' arrivals (materialised) through a pickle file.
    """
    connection.close()
    with tempfile.TemporaryDirectory(prefix="onboard90-bench-") as tmp:
        result_path, error_path = Path(tmp) / "built.pickle", Path(tmp) / "error.txt"
        pid = os.fork()
        if pid == 0:  # the child: build, hand back, leave without running the parent's cleanup
            code = 0
            try:
                built = build_state(**build)
                for events in built.future.values():
                    for key, value in list(events.items()):
                        if isinstance(value, tuple):
                            cols, rows = value
                            events[key] = (cols, _materialised(list(itertools.chain.from_iterable(rows()))))
                        else:
                            events[key] = _materialised(list(itertools.chain.from_iterable(value())))
                connection.close()
                with open(result_path, "wb") as fh:
                    pickle.dump((built, peak_rss_mb()), fh)
            except BaseException as exc:  # noqa: B036 — reported to the parent, which raises it
                error_path.write_text(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
                code = 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if error_path.exists():
            first = error_path.read_text().splitlines()[0]
            if first.startswith("BenchRefused: "):
                raise BenchRefused(first.removeprefix("BenchRefused: "))
            raise RuntimeError(f"bench build failed: {error_path.read_text()}")
        if os.waitstatus_to_exitcode(status) != 0 or not result_path.exists():
            raise RuntimeError(f"bench build process ended with status {status}")
        with open(result_path, "rb") as fh:
            return pickle.load(fh)


class _materialised:
    """Rows already in memory, callable like a generator table's row source (one chunk)."""

    def __init__(self, rows: list[tuple]):
        self.rows = rows

    def __call__(self):
        yield self.rows


@contextlib.contextmanager
def quiet_logs():
    logger = logging.getLogger("onboard90")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
