"""The dashboard's precomputed cells give the compliance report's figures: after each cycle's rebuild, and
after every completion, bulk completion and correction made between two cycles (runs on SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Count, F, Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onboard90 import testing as builders
from onboard90.catalog.models import VipTier
from onboard90.core import clock
from onboard90.customers.models import Customer
from onboard90.customers.services import customer_cancel, customer_rate_vip
from onboard90.journeys import cycle, engine, services
from onboard90.journeys import selectors as journeys
from onboard90.journeys.enums import RUNNING
from onboard90.journeys.models import JourneyAction, Task
from onboard90.journeys.selectors import versions_in_use
from onboard90.org.models import Unit
from onboard90.playbook.selectors import playbook_of
from onboard90.reporting import selectors
from onboard90.reporting import services as reporting_services
from onboard90.reporting.models import CustomerMove, FigureCell, FigureRefresh
from onboard90.reporting.services import COUNTS, KEY, _cell_rows, bucket, figures_rebuild

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
    # One scan of the acts, whatever its kind; on PostgreSQL one of each partition (by customer id).
    scanned = re.findall(r" on (journeys_journeyaction\w*)", plan)
    assert scanned and len(scanned) == len(set(scanned)), plan


# --- the cycle's advance ------------------------------------------------------------------------------


def cells_by_key() -> dict:
    """The cells summed by their key, zero counts left out: what any reader of them can see."""
    summed: dict = {}
    for row in FigureCell.objects.values_list(*KEY).annotate(*(Sum(name) for name in COUNTS)).order_by():
        counts = tuple(row[len(KEY):])
        if any(counts):
            summed[tuple(row[: len(KEY)])] = counts
    return summed


def counted_afresh(as_of: dt.datetime) -> dict:
    return {tuple(row[: len(KEY)]): tuple(row[len(KEY):]) for row in _cell_rows(as_of) if any(row[len(KEY):])}


def a_day_between_cycles(province, rng: random.Random, n: int) -> None:
    """What a day brings between two cycles, drawn at random: arrivals, staff work on some tasks, a VIP
    rating, a cancellation, a customer moved to another city or store, an act changed by outside SQL."""
    now = at(n, 15)
    cities = [province[code]["city"] for code in ("jinan", "qingdao")]
    for _ in range(rng.randint(0, 3)):
        builders.customer(city_obj=rng.choice(cities), activated_on=day(n))
    running = list(Task.objects.filter(status__in=RUNNING, kind="act").select_related("owner_unit__city").order_by("pk"))
    for task in rng.sample(running, min(len(running), rng.randint(0, 4))):
        supervisor = province[task.owner_unit.city.code]["supervisor"]
        services.task_complete(
            task=task, outcome=rng.choice(["reached", "no_answer", "wrong_number", "refused"]), completed_by=supervisor,
            at=now, now=now,
        )
    customers = list(Customer.objects.filter(status="active", activated_on__lte=day(n)).order_by("pk"))
    if customers and rng.random() < 0.5:
        customer_rate_vip(customer=rng.choice(customers), tier=VipTier.objects.get(code="gold"), rated_at=now)
    if customers and rng.random() < 0.3:
        customer_cancel(customer=rng.choice(customers), at=now)
    if customers and rng.random() < 0.5:
        moved = rng.choice(customers)
        city = rng.choice(cities)
        stores = list(Unit.objects.filter(city=city, kind="store").order_by("pk"))
        Customer.objects.filter(pk=moved.pk).update(city=city, store=rng.choice(stores))
    if rng.random() < 0.3:
        # An act closed behind the application's back (a repair script, say): seen because it left running.
        act = JourneyAction.objects.filter(status__in=RUNNING).order_by("?").first()
        if act is not None:
            JourneyAction.objects.filter(pk=act.pk).update(status="done", closed_at=now)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("recount", ["by index", "whole"])
def test_each_cycle_advances_the_cells_to_what_a_full_count_gives(province, seed, recount, monkeypatch):
    """Property over random days: whatever happened between two cycles, the cells the cycle advanced are the
    cells a count of every act would give, key for key — and the advance recounted only some of them. The
    same whether the touched groups' tasks and customers are probed by index or read whole (on PostgreSQL the
    two are different plans; `services.FEW_GROUPS` picks one by how many groups are touched)."""
    monkeypatch.setattr(reporting_services, "FEW_GROUPS", 0 if recount == "by index" else 10**9)
    rng = random.Random(seed)
    for code in ("jinan", "qingdao"):
        Unit.objects.create(code=f"{code}-store-2", city=province[code]["city"], kind="store", name=f"{code}第二营业厅")
    populate(province, per_city=2)
    run(province, 0, 0)
    assert FigureRefresh.objects.get().full
    for n in range(1, 9):
        a_day_between_cycles(province, rng, n - 1)
        run(province, n, n)
        refresh = FigureRefresh.objects.first()
        assert not refresh.full
        assert cells_by_key() == counted_afresh(refresh.as_of), f"day {n}"
        assert not CustomerMove.objects.exists()
    assert_cells_match(at(8, 12))


def test_a_customer_moved_to_another_store_is_counted_there_after_the_next_cycle(province):
    jinan, qingdao = province["jinan"]["city"], province["qingdao"]["city"]
    populate(province, per_city=1)
    run(province, 0, 2)
    moved = Customer.objects.filter(city=jinan).order_by("pk").first()
    Customer.objects.filter(pk=moved.pk).update(city=qingdao, store=builders.unit(qingdao, "store"))
    assert CustomerMove.objects.filter(customer_id=moved.pk).exists()
    run(province, 3, 3)
    assert_cells_match(at(3, 12))
    assert not CustomerMove.objects.exists()


def test_an_act_opened_since_the_last_count_is_counted_once_when_done_before_the_next(province):
    """An act opened between two cycles (a journey started at noon opens its day-0 acts) and done before the
    next: the completion leaves its cell to the next advance, which counts the act once, done."""
    populate(province, per_city=1)
    run(province, 0, 1)
    upto = FigureRefresh.objects.first().acts_upto
    late = builders.customer(city_obj=province["jinan"]["city"], activated_on=day(1))
    run(province, 2, 2)  # opens the newcomer's acts: counted by this advance
    task = Task.objects.filter(journey__customer=late, status__in=RUNNING, kind="act").order_by("pk").first()
    assert task is not None and task.action_id > upto
    services.task_complete(task=task, outcome="reached", completed_by=province["jinan"]["supervisor"], at=at(2, 15), now=at(2, 15))
    assert_cells_match(at(2, 16))
    builders.customer(city_obj=province["jinan"]["city"], activated_on=day(2))
    run(province, 3, 3)
    assert cells_by_key() == counted_afresh(at(3, 9))


def test_tasks_gone_overdue_move_their_cells_with_the_flip_and_leave_nothing_to_recount(province):
    """The engine's overdue flip moves its acts from open to overdue in the cells in its own transaction: the
    cells equal a full count at once, and the next advance finds no group to recount for it."""
    populate(province, per_city=2)
    run(province, 0, 1)
    later = at(12)
    flipped = engine.mark_overdue(as_of=later)["overdue"]
    assert flipped > 0
    assert JourneyAction.objects.filter(status="overdue").count() >= flipped
    assert cells_by_key() == counted_afresh(later)
    refresh = reporting_services.figures_advance(as_of=later)
    assert refresh.cells == 0  # no group recounted: the flips were counted as they happened
    assert cells_by_key() == counted_afresh(later)


def test_a_journey_that_reaches_its_last_day_moves_its_running_acts_to_missed_without_a_recount(province):
    """At day 90 the work still running is missed (open and overdue alike): each act leaves its own count
    for `missed` in the cells as the journey closes, not at the next advance by a recount of ninety days of
    acts."""
    populate(province, per_city=2)
    run(province, 0, 1)
    engine.mark_overdue(as_of=at(12))  # some running acts overdue, the others still open
    reporting_services.figures_advance(as_of=at(12))
    running = dict(JourneyAction.objects.filter(status__in=RUNNING).values_list("status").annotate(n=Count("pk")))
    assert running.get("open") and running.get("overdue")
    end = at(day_count := 100)
    for version in versions_in_use():
        closed = engine.close_finished_journeys(
            version=version, playbook=playbook_of(version), today=day(day_count), as_of=end
        )
        assert closed > 0
    assert not JourneyAction.objects.filter(status__in=RUNNING).exists()
    assert cells_by_key() == counted_afresh(end)
    assert reporting_services.figures_advance(as_of=end).cells == 0
    assert_cells_match(end)


def test_the_shared_steps_in_shards_each_take_their_own_customers_and_together_leave_the_cells_exact(province):
    """On workers, overdue and the journeys' ends run as shards of the customers side by side (`engine.Shard`):
    each shard flips and closes only its own customers' rows, and the shards together do what one pass does, the
    cells moved as they go."""
    populate(province, per_city=3)
    run(province, 0, 1)
    late = dict(Task.objects.filter(status="open", due_at__lt=at(12)).values_list("pk", "customer_id"))
    assert len({customer % 3 for customer in late.values()}) == 3, "every shard has late tasks"
    flipped = {}
    for index in range(3):
        engine.mark_overdue(as_of=at(12), shard=engine.Shard(index, 3))
        flipped[index] = set(Task.objects.filter(status="overdue").values_list("pk", flat=True)) - set().union(
            *flipped.values()
        )
        assert flipped[index] == {pk for pk, customer in late.items() if customer % 3 == index}
        assert cells_by_key() == counted_afresh(at(12))
    end, ended = at(100), {}
    for index in range(3):
        for version in versions_in_use():
            engine.close_finished_journeys(
                version=version, playbook=playbook_of(version), today=day(100), as_of=end, shard=engine.Shard(index, 3)
            )
        ended[index] = set(
            JourneyAction.objects.filter(status="missed", closed_at=end).values_list("customer_id", flat=True)
        ) - set().union(*ended.values())
        assert ended[index] and {customer % 3 for customer in ended[index]} == {index}
    assert not JourneyAction.objects.filter(status__in=RUNNING).exists()
    assert cells_by_key() == counted_afresh(end) and reporting_services.figures_advance(as_of=end).cells == 0
