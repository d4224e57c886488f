"""The dashboard's precomputed cells give the compliance report's figures: after each cycle's rebuild, and
after every completion, bulk completion and correction made between two cycles (runs on SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.journeys import cycle, services
from onboard90.journeys import selectors as journeys
from onboard90.journeys.enums import RUNNING
from onboard90.journeys.models import Task
from onboard90.reporting import selectors
from onboard90.reporting.models import FigureCell, FigureRefresh
from onboard90.reporting.services import bucket, figures_rebuild

pytestmark = pytest.mark.django_db

DAY0 = dt.date(2012, 3, 1)


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


def at(n: int, hour: int = 11) -> dt.datetime:
    return clock.at_local(day(n), hour)


def run(province, first: int, last: int) -> None:
    for n in range(first, last + 1):
        cycle.cycle_run(as_of=clock.cycle_instant(day(n)), gateway=province["gateway"])


def populate(province, per_city: int = 3) -> None:
    """Customers of both cities activated over the first three days, walked to day 6."""
    for n in range(3):
        for code in ("jinan", "qingdao"):
            for _ in range(per_city):
                builders.customer(city_obj=province[code]["city"], activated_on=day(n))


def from_cells(by: str, as_of: dt.datetime, due_from=None, due_to=None) -> dict:
    """The cells summed by the compliance report's labels (city name, store code, act code)."""
    field = {"city": "city__name", "store": "store__code", "action": "action_code"}[by]
    cells = FigureCell.objects.all()
    if due_from and due_to:
        cells = cells.filter(selectors._due_in(due_from, due_to))
    rows = cells.values(label=F(field)).annotate(**selectors._cell_sums(as_of))
    return {row["label"]: journeys.figures(**selectors.cell_counts(row)) for row in rows.order_by()}


def from_report(by: str, as_of: dt.datetime, due_from=None, due_to=None) -> dict:
    report = journeys.compliance_report(by=by, as_of=as_of, due_from=due_from, due_to=due_to)
    return {row[by]: {k: v for k, v in row.items() if k != by} for row in report["rows"]}


def assert_cells_match(as_of: dt.datetime, due_from=None, due_to=None) -> None:
    for by in ("city", "store", "action"):
        assert from_cells(by, as_of, due_from, due_to) == from_report(by, as_of, due_from, due_to), by


def test_bucket_is_the_figures_definition():
    assert bucket("done") == "done" and bucket("done_late") == "done_late"
    assert bucket("done", backdated=True) == bucket("done_late", backdated=True) == "backdated"
    assert bucket("missed", backdated=True) == "missed"
    assert bucket("open") == "open" and bucket("overdue") == "overdue"
    assert {bucket(s) for s in ("not_applicable", "superseded", "cancelled", "pending")} == {None}


def test_each_cycle_rebuilds_the_cells_to_the_report(province):
    populate(province)
    run(province, 0, 4)
    assert FigureRefresh.objects.count() == 5
    assert FigureRefresh.objects.first().as_of == clock.cycle_instant(day(4))
    assert_cells_match(at(4, 12))
    assert_cells_match(at(4, 12), due_from=day(2), due_to=day(3))
    # Later the same day, open acts past their due time read as overdue before the next cycle marks them.
    assert_cells_match(at(5, 0) + dt.timedelta(minutes=5))
    # The cells are a fraction of the acts they count.
    assert FigureCell.objects.count() < journeys.JourneyAction.objects.filter(status__in=journeys.COUNTED).count()


def test_staff_work_between_cycles_moves_the_cells_at_once(province):
    populate(province)
    run(province, 0, 4)
    jinan = province["jinan"]
    now = at(4, 14)
    store_tasks = list(
        Task.objects.filter(owner_unit__code="jinan-store-1", status__in=RUNNING).select_related("action").order_by("pk")
    )
    # One at a time, by the supervisor (the store's work is assigned to no one).
    services.task_complete(task=store_tasks[0], outcome="reached", completed_by=jinan["supervisor"], at=now, now=now)
    # A backdated entry, counted apart.
    services.task_complete(
        task=store_tasks[1], outcome="reached", completed_by=jinan["supervisor"], at=at(2, 15), now=now,
        reason="纸质登记表补录",
    )
    # A dialler's file: reached, wrong number and an unanswered attempt that keeps its task running.
    calls = list(Task.objects.filter(owner_unit__code="jinan-cc", status__in=RUNNING).order_by("pk")[:3])
    agent = jinan["agent"].pk
    services.tasks_complete_bulk(
        completions=[
            (calls[0].pk, "reached", now, agent), (calls[1].pk, "wrong_number", now, agent),
            (calls[2].pk, "no_answer", now, agent),
        ],
        source="dialler", now=now + dt.timedelta(minutes=30),
    )
    # A correction of the first completion: in fact the customer was never reached.
    services.task_correct(task=store_tasks[0], outcome="wrong_number", corrected_by=jinan["supervisor"], reason="核实为错号", now=now)
    assert_cells_match(at(4, 16))
    assert_cells_match(at(4, 16), due_from=day(3), due_to=day(6))
    # And the next cycle's rebuild agrees with what the moves made of the cells.
    before = from_cells("store", at(4, 16))
    figures_rebuild(as_of=at(4, 16))
    assert from_cells("store", at(4, 16)) == before


@pytest.fixture
def walked(province):
    populate(province, per_city=2)
    run(province, 0, 5)
    return province


WORK = st.lists(
    st.tuples(
        st.sampled_from(["one", "bulk", "correct", "backdated"]),
        st.integers(min_value=0, max_value=10_000),
        st.sampled_from(["reached", "no_answer", "busy", "wrong_number", "refused"]),
    ),
    min_size=1, max_size=8,
)


def test_any_mix_of_staff_work_keeps_the_cells_equal_to_the_report(walked):
    """Property: whatever work is entered between two cycles, in whatever order, the cells read as the
    report does — by city, by store and by act."""
    now = at(5, 15)
    supervisors = {code: walked[code]["supervisor"] for code in ("jinan", "qingdao")}

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(WORK)
    def agree(work):
        with transaction.atomic():
            for kind, pick, outcome in work:
                running = list(Task.objects.filter(status__in=RUNNING, kind="act").select_related("owner_unit__city").order_by("pk"))
                closed = list(
                    Task.objects.filter(status__in=["done", "done_late", "missed"], kind="act")
                    .select_related("owner_unit__city").order_by("pk")
                )
                if kind == "correct" and closed:
                    task = closed[pick % len(closed)]
                    services.task_correct(
                        task=task, outcome=outcome, corrected_by=supervisors[task.owner_unit.city.code], reason="更正", now=now
                    )
                elif kind == "bulk" and running:
                    rng = random.Random(pick)
                    chosen = rng.sample(running, min(len(running), 1 + pick % 4))
                    services.tasks_complete_bulk(
                        completions=[(t.pk, outcome, now, supervisors[t.owner_unit.city.code].pk) for t in chosen],
                        source="file", now=now,
                    )
                elif running:
                    task = running[pick % len(running)]
                    backdated = kind == "backdated" and task.created_at < at(3)
                    services.task_complete(
                        task=task, outcome=outcome, completed_by=supervisors[task.owner_unit.city.code],
                        at=at(3, 12) if backdated else now, now=now, reason="补录" if backdated else "",
                    )
            assert_cells_match(now + dt.timedelta(hours=1))
            transaction.set_rollback(True)

    agree()


def test_the_operators_command_rebuilds(province, capsys):
    populate(province, per_city=1)
    run(province, 0, 2)
    FigureCell.objects.all().delete()
    builders.scratch_database()
    with clock.simulated(at(2, 12)):
        call_command("figures", "rebuild")
    assert "单元" in capsys.readouterr().out
    assert FigureRefresh.objects.first().as_of == at(2, 12)
    assert_cells_match(at(2, 12))


@pytest.mark.postgres
def test_the_rebuild_is_one_grouped_pass_over_the_acts(province):
    """The plan: the acts read once (a sequential or index scan), joined to journeys and customers, grouped."""
    populate(province, per_city=1)
    run(province, 0, 1)
    from onboard90.reporting.services import _cell_rows

    sql, params = _cell_rows(at(1, 12)).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Aggregate" in plan
    assert plan.count(" on journeys_journeyaction") == 1, plan  # one scan of the acts, whatever its kind
