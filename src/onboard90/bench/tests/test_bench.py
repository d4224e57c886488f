"""The bench builds the state the cycle would have left, prints one JSON document, and refuses to empty
a database that is not its own. Small N; no timing is ever asserted."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys

import pytest
from django.db import connection
from django.db.models import Count, Max, Min

from onboard90.bench import generator, services
from onboard90.core import clock
from onboard90.journeys.cycle import cycle_run
from onboard90.reporting.models import FigureRefresh
from onboard90.reporting.tests.test_figure_cells import cells_by_key, counted_afresh

DAY = dt.date(2026, 6, 15)
TABLES = services.WRITTEN_TABLES + ("journeys_journey", "customers_customer")


def _rows() -> dict[str, int]:
    return services._counts(TABLES)


@pytest.fixture
def built(db):
    services.prepare_database(reset=False)
    return services.build_state(journeys=2000, daily=None, today=DAY, seed=7)


def test_the_build_is_what_the_cycles_left(built):
    counts = built.counts
    assert counts["customers"] == 2000
    assert counts["actions"] >= 9 * 2000  # production-sized: about ten acts per journey on file
    assert counts["tasks"] and counts["sms"] and counts["escalations"]

    # Rerunning yesterday's cycle finds nothing to do: every act, task, SMS and escalation is there.
    before = _rows()
    rerun = cycle_run(as_of=clock.cycle_instant(DAY - dt.timedelta(days=1)), dispatch=False)
    assert {k: v for k, v in rerun.counts.items() if v} == {}
    assert _rows() == before

    # Today's cycle opens exactly what falls due today, and nothing is found missed.
    run = cycle_run(as_of=clock.cycle_instant(DAY), dispatch=False)
    assert run.counts["missed"] == 0
    assert run.counts["opened"] == sum(built.expected_due.values()) > 0
    assert run.counts["closed"] == counts["closing"] > 0
    assert run.counts["assigned"] == counts["vip_rated_today"]
    from onboard90.journeys.models import JourneyAction

    rows = (
        JourneyAction.objects.filter(opened_at=clock.cycle_instant(DAY)).exclude(reason="never_opened")
        .values("action_code").annotate(n=Count("id"))
    )
    opened = {row["action_code"]: row["n"] for row in rows}
    assert opened == {code: n for code, n in built.expected_due.items() if n}


def test_fixed_daily_work_is_independent_of_the_journeys_on_file(db):
    services.prepare_database(reset=False)
    playbook = services.reference(DAY).playbook
    small = generator.cohort_sizes(3000, 40, playbook)
    large = generator.cohort_sizes(9000, 40, playbook)
    hot = sorted(generator.hot_ages(playbook))
    assert small.sum() == 3000 and large.sum() == 9000
    assert (small[hot] == 40).all() and (large[hot] == 40).all()
    with pytest.raises(ValueError, match="--daily"):
        generator.cohort_sizes(100, 40, playbook)


def _bench(tmp_path, *args: str, url: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "ONBOARD90_VAR": str(tmp_path / "var")}
    env["DATABASE_URL"] = url or f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    return subprocess.run(
        [sys.executable, "-m", "onboard90", "bench", "cycle", *args], env=env, capture_output=True, text=True,
        timeout=300,
    )


@pytest.mark.sqlite
def test_json_is_one_document_with_the_figures(tmp_path):
    done = _bench(tmp_path, "--journeys", "400", "--date", DAY.isoformat(), "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # the whole of stdout is one JSON document
    for key in ("journeys", "due_rows", "cycle_s", "rows_per_s", "baseline_rows_per_s", "peak_rss_mb", "database",
                "dispatch_s", "build_s"):
        assert key in document, key
    assert document["journeys"] == 400 and document["database"] == "sqlite"
    assert document["due_rows"] == sum(document["expected_due"].values())
    assert len(document["days"]) == 1


@pytest.mark.sqlite
@pytest.mark.celery
def test_on_two_celery_workers_the_cycles_write_what_they_write_in_one_process(tmp_path):
    """`--workers 2`: each day's cycle fanned out over two real worker processes on the broker, the same rows
    written and the same counts recorded as in this process; each worker's peak memory reported."""
    args = ("--journeys", "400", "--days", "2", "--date", DAY.isoformat(), "--no-dispatch", "--json")
    alone = _bench(tmp_path / "alone", *args, url=f"sqlite:///{tmp_path / 'alone.sqlite3'}")
    fanned = _bench(tmp_path / "fanned", *args, "--workers", "2", url=f"sqlite:///{tmp_path / 'fanned.sqlite3'}")
    assert alone.returncode == 0, alone.stderr
    assert fanned.returncode == 0, fanned.stderr
    one, two = json.loads(alone.stdout), json.loads(fanned.stdout)
    assert (one["workers"], two["workers"]) == (0, 2)
    assert len(two["worker_peak_rss_mb"]) == 2 and min(two["worker_peak_rss_mb"]) > 0
    for a, b in zip(one["days"], two["days"], strict=True):
        assert (a["due_rows"], a["rows_written"], a["inserted"]) == (b["due_rows"], b["rows_written"], b["inserted"])
        assert {k: v for k, v in a["counts"].items() if v} == {k: v for k, v in b["counts"].items() if v}


@pytest.mark.sqlite
def test_a_bad_number_of_workers_is_a_one_line_error(tmp_path):
    done = _bench(tmp_path, "--journeys", "100", "--workers", "9")
    assert done.returncode == 1
    assert "--workers" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.sqlite
def test_a_database_with_other_customers_is_refused(tmp_path):
    path = tmp_path / "bench.sqlite3"
    init = subprocess.run(
        [sys.executable, "-m", "onboard90", "init"], capture_output=True, text=True, timeout=300,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{path}", "ONBOARD90_VAR": str(tmp_path / "var")},
    )
    assert init.returncode == 0, init.stderr
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO customers_customer (msisdn, name, city_id, store_id, activated_at, activated_on, product, "
        "package_id, contract_plan, previous_msisdn, number_changed, handset_os, first_month, marketing_opt_out, "
        "status, created_at, updated_at) SELECT '18600000001', '', c.id, u.id, '2026-06-01 01:00:00', '2026-06-01', "
        "'postpaid', p.id, '', '', 0, '', 'full', 0, 'active', '2026-06-01 01:00:00', '2026-06-01 01:00:00' "
        "FROM org_city c JOIN org_unit u ON u.city_id = c.id AND u.kind = 'store' JOIN catalog_package p LIMIT 1"
    )
    db.commit()
    db.close()
    done = _bench(tmp_path, "--journeys", "100")
    assert done.returncode == 1
    assert "--force" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
    still = sqlite3.connect(path).execute("SELECT count(*) FROM customers_customer").fetchone()[0]
    assert still == 1  # nothing was emptied


def test_refusal_happens_before_anything_is_emptied(db):
    from onboard90 import testing

    testing.customer(start_journey=False)
    with pytest.raises(services.BenchRefused, match="--force"):
        services.prepare_database(reset=True)
    assert services.foreign_customers() == 1


@pytest.mark.postgres
def test_postgres_bulk_load_puts_every_index_and_constraint_back(db):
    def shape():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tablename, indexname FROM pg_indexes WHERE tablename = ANY(%s) ORDER BY 1, 2",
                [list(services.BIG_TABLES)],
            )
            indexes = cursor.fetchall()
            cursor.execute(
                "SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s) "
                "ORDER BY 1, 2",
                [list(services.BIG_TABLES)],
            )
            return indexes, cursor.fetchall()

    before = shape()
    services.prepare_database(reset=False)
    built = services.build_state(journeys=500, daily=None, today=DAY, seed=3)
    assert shape() == before
    with connection.cursor() as cursor:
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"
        cursor.execute("SELECT count(*) FROM journeys_journeyaction")
        assert cursor.fetchone()[0] == built.counts["actions"]
    run = cycle_run(as_of=clock.cycle_instant(DAY), dispatch=False)
    assert run.counts["opened"] == sum(built.expected_due.values())


def test_a_national_file_drawn_block_by_block_is_what_the_cycles_left(db, monkeypatch):
    """Past a province the customers are drawn a block at a time (the build's memory follows the block): the
    ids still follow arrival without a gap, and the cycles find exactly what they would in a file drawn whole."""
    monkeypatch.setattr(generator, "BLOCK", 700)
    services.prepare_database(reset=False)
    built = services.build_state(journeys=2000, daily=None, today=DAY, seed=7, horizon=2)
    from onboard90.customers.models import Customer
    from onboard90.journeys.models import JourneyAction, Task

    assert Customer.objects.count() == built.counts["customers"] == 2000
    for model, counted in ((JourneyAction, "actions"), (Task, "tasks")):
        ids = model.objects.aggregate(first=Min("id"), last=Max("id"), n=Count("id"))
        assert ids == {"first": 1, "last": built.counts[counted], "n": built.counts[counted]}
    oldest = Customer.objects.order_by("id").values_list("activated_on", flat=True)
    assert list(oldest) == sorted(oldest)  # arrival order across the blocks

    run = cycle_run(as_of=clock.cycle_instant(DAY), dispatch=False)
    assert run.counts["missed"] == 0
    assert run.counts["opened"] == sum(built.expected_due.values()) > 0
    assert run.counts["closed"] == built.counts["closing"] > 0
    services.arrive(built, 1)
    assert Customer.objects.count() == 2000 + 2000 // generator.JOURNEY_AGES


def test_a_second_day_brings_staff_work_and_arrivals_then_its_cycle_runs(db):
    """What `--days K` does between cycles, on this test pass's database (SQLite or PostgreSQL)."""
    services.prepare_database(reset=False)
    built = services.build_state(journeys=1500, daily=None, today=DAY, seed=11, horizon=2)
    cycle_run(as_of=clock.cycle_instant(DAY), dispatch=False)
    tomorrow = DAY + dt.timedelta(days=1)
    done = services.staff_work(until=clock.cycle_instant(tomorrow), at=clock.cycle_instant(DAY) + dt.timedelta(hours=6))
    assert done["done"] > 0
    # The staff's work moved the dashboard's cells as it went, as the completions of real staff do: they already
    # equal a fresh count, so the next cycle's advance has nothing of it to find.
    last = FigureRefresh.objects.order_by("-id").first()
    assert cells_by_key() == counted_afresh(last.as_of)
    customers = _rows()["customers_customer"]
    services.arrive(built, 1)
    assert _rows()["customers_customer"] > customers
    run = cycle_run(as_of=clock.cycle_instant(tomorrow), dispatch=False)
    assert run.status == "finished" and run.counts["opened"] > 0


def test_each_day_of_a_days_run_runs_at_its_own_instant_and_looks_only_at_that_days_changes(transactional_db):
    """The cycles of T+1 and after lie in the future of the bench's wall clock: each runs at its own instant,
    and takes from the change log only what changed since the cycle before it.
    (Committed: the run ends with the baseline, whose table PostgreSQL cannot drop inside a transaction
    that still owes it a deferred key check.)"""
    from onboard90.customers.models import Customer, CustomerChange
    from onboard90.journeys.models import CycleRun

    today = clock.today() + dt.timedelta(days=1)  # a cycle instant the wall clock has not reached
    services.run(journeys=1500, days=2, today=today, seed=11, reset=False, dispatch=False, fork=False)

    runs = list(CycleRun.objects.filter(as_of__gte=clock.cycle_instant(today)).order_by("as_of"))
    assert [r.as_of.date() for r in runs] == [today, today + dt.timedelta(days=1)]
    assert [r.started_at for r in runs] == [r.as_of for r in runs]
    # What the second day's cycle took for changed: its change lines.
    taken = CustomerChange.objects.filter(consumed_by=runs[1].pk).values("customer_id")
    changed = Customer.objects.filter(pk__in=taken)
    assert changed.filter(activated_on=today + dt.timedelta(days=1)).exists()  # the second day's arrivals
    # The first day's arrivals were that day's cycle's; only the VIPs its cycle gave a manager changed since.
    assert not changed.filter(activated_on=today, account_manager__isnull=True).exists()


def test_with_a_usage_feed_the_cycles_price_packages_choose_offers_and_raise_surge_alerts(db):
    """`--usage`: the build leaves the feed the earlier cycles consumed, and yesterday's file arrives before each
    cycle, which claims it; the usage steps then have work on both days (this test pass's database)."""
    from onboard90.bench import feed
    from onboard90.usage.models import PackageFitVerdict, UsageLoad, UsageMonth

    services.prepare_database(reset=False)
    built = services.build_state(journeys=2000, daily=None, today=DAY, seed=7, horizon=2, usage=True)
    assert built.counts["usage_history_rows"] > 2000 * feed.HISTORY_DAYS // 2
    assert not UsageLoad.objects.filter(consumed_by__isnull=True).exists()  # the earlier cycles consumed it
    assert UsageMonth.objects.filter(month="2026-05", days=30).exists()  # a complete month to price on

    counts = []
    for day in (DAY, DAY + dt.timedelta(days=1)):
        delivered = feed.deliver(day=day, seed=7)
        assert delivered["usage_rows"] > 0
        with clock.simulated(clock.cycle_instant(day)):
            run = cycle_run(as_of=clock.cycle_instant(day), dispatch=False)
        assert UsageLoad.objects.filter(consumed_by=run.pk).exists()
        counts.append(run.counts)
    assert counts[0]["fit_verdicts"] > 0 and counts[0]["surge_alerts"] > 0
    # The second day's file moved only the running month: the verdicts priced are the window's newcomers.
    assert 0 < counts[1]["fit_verdicts"] < counts[0]["fit_verdicts"]
    assert PackageFitVerdict.objects.count() == counts[0]["fit_verdicts"] + counts[1]["fit_verdicts"]
