"""增量: a cycle that looks only at what changed since the previous one ends exactly where a full rescan does.

The world's clock is simulated here (Django's `timezone.now` and `clock.now`) as in the demo's history; the
delta itself reads no clock (the change log, see journeys.changes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pytest
from django.db import transaction

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.customers import services as customer_services
from onboard90.journeys import changes, cycle, services
from onboard90.journeys.models import CycleRun, Escalation, JourneyAction, Task
from onboard90.journeys.tests.test_plan_walkthrough import DAY0, day
from onboard90.messaging.models import OutboxMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def sim():
    """The world's clock (Django's `timezone.now` and `clock.now`), as the demo's history runs it."""
    builders.scratch_database()
    with clock.simulated(clock.at_local(DAY0, 0)) as wall:
        yield wall


def snapshot() -> dict[str, list]:
    """Every row the engine wrote, without ids."""
    who = "journey__customer__msisdn"
    return {
        "acts": sorted(JourneyAction.objects.values_list(
            who, "action_code", "occurrence", "status", "window_start", "window_end", "due_at", "opened_at",
            "closed_at", "reason",
        )),
        "tasks": sorted(Task.objects.values_list(
            who, "action__action_code", "kind", "owner_unit_id", "assignee_id", "status", "due_at", "created_at",
        )),
        "sms": sorted(OutboxMessage.objects.values_list(
            "customer__msisdn", "action__action_code", "status", "scheduled_at", "not_after", "text", "last_error",
        )),
        "escalations": sorted(Escalation.objects.values_list(
            "task__action__action_code", "task__journey__customer__msisdn", "at", "unit_id", "supervisor_id", "reason",
        )),
    }


def history(
    province, sim: clock.SimulatedClock, *, rescan: bool, skipped: Iterable[int] = (), run=cycle.cycle_run
) -> None:
    """Twenty days of a small province: arrivals, late VIP ratings, bills, opt-outs, a late load, staff work;
    no cycle (and no staff) on the `skipped` days. `run` runs each day's cycle (`cycle.cycle_run`'s arguments)."""
    city, gateway = province["city"], province["gateway"]
    people = {}
    for n in range(0, 21):
        sim.at = clock.at_local(day(n), 0, 30)  # the night's loads, before the day's cycle
        if n <= 5:  # two a day: one post-paid, one changed number or pre-paid
            people[f"post{n}"] = builders.customer(
                city_obj=city, activated_on=day(n), handset_os="android", msisdn=f"1850000{n:02d}01"
            )
            people[f"other{n}"] = builders.customer(
                city_obj=city, activated_on=day(n), number_changed=n % 2 == 0, msisdn=f"1850000{n:02d}02",
                **({} if n % 2 == 0 else {"product": "prepaid", "package_code": "P20"}),
            )
        if n == 0:  # near the end of the journey: the first cycle finds its past windows missed
            people["veteran"] = builders.customer(city_obj=city, activated_on=day(-70), msisdn="18500009902")
        if n == 16:  # rated VIP in its last week (journey day 86)
            customer_services.customer_rate_vip(
                customer=people["veteran"], tier=builders.vip_tier("gold"), rated_at=clock.at_local(day(16), 0, 20)
            )
        if n == 3:  # a number change reported mid-window (coaching days 0–3 of other1): due that very day
            customer_services.customer_change_number(
                customer=people["other1"], previous_msisdn="13012340001", at=clock.at_local(day(3), 0, 20)
            )
        if n == 8:  # loaded late, with an activation a week old
            people["late"] = builders.customer(city_obj=city, activated_on=day(2), msisdn="18500009901")
        if n == 3:
            customer_services.customer_rate_vip(
                customer=people["post1"], tier=builders.vip_tier("gold"), rated_at=clock.at_local(day(3), 0, 20)
            )
        if n == 12:  # rated late: the running ordinary callback gives way to the VIP one
            customer_services.customer_rate_vip(
                customer=people["post4"], tier=builders.vip_tier("diamond"), rated_at=clock.at_local(day(12), 0, 20)
            )
        if n == 6:  # opts out of marketing mid-window, through the admin's save
            people["post5"].marketing_opt_out = True
            people["post5"].save()
        if n == 9:
            customer_services.customer_change_number(
                customer=people["post3"], previous_msisdn="13012345678", at=clock.at_local(day(9), 0, 20)
            )
        if n == 14:
            customer_services.customer_record_bill(
                customer=people["post0"], bill_month="2012-03", issued_at=clock.at_local(day(14), 0, 20), amount="66.00"
            )
        if n in skipped:
            continue
        sim.at = clock.cycle_instant(day(n))
        run(as_of=sim.at, gateway=gateway, rescan=rescan)
        sim.at = clock.at_local(day(n), 15)
        # Half the new work gets done; post4's is left running, for its late rating to supersede.
        spared = [people["post4"].pk] if "post4" in people else []
        # In the order of what the tasks are, not of their ids (which follow the order the cycle wrote them in).
        work = Task.objects.filter(status="open").exclude(journey__customer_id__in=spared)
        for task in work.order_by("journey__customer__msisdn", "action__action_code", "action__occurrence")[::2]:
            services.task_complete(task=task, outcome="reached", at=sim.at, completed_by=province["supervisor"])


# Days 9–16 without a cycle: post5's first callback (days 9–15) opens and closes unseen by any cycle.
@pytest.mark.parametrize("skipped", [(), range(9, 17)], ids=["daily", "a week without cycles"])
def test_cycles_that_look_only_at_what_changed_end_where_full_rescans_do(province, sim, monkeypatch, skipped):
    looked = builders.cycle_looks(monkeypatch)
    before = transaction.savepoint()
    history(province, sim, rescan=False, skipped=skipped)
    delta = snapshot()
    transaction.savepoint_rollback(before)
    assert any(since is not None for since in looked), "the delta scans never ran"

    looked.clear()
    sim.at = clock.at_local(DAY0, 0)
    history(province, sim, rescan=True, skipped=skipped)
    assert all(since is None for since in looked)
    full = snapshot()

    assert delta["acts"] and delta["tasks"] and delta["sms"] and delta["escalations"]
    # The cases only the delta's "changed since" scans can catch happened (the rest the window starts do).
    assert ("18500000102", "number_change_coaching") in {row[:2] for row in delta["tasks"]}
    assert ("18500009902", "vip_first_callback") in {row[:2] for row in delta["tasks"]}
    if skipped:
        assert ("18500000501", "first_callback", 0, "missed") in {row[:4] for row in delta["acts"]}
    statuses = {row[3] for row in delta["acts"]}
    # post4's ordinary callback gives way to the VIP one when the rating is seen in time; a week without
    # cycles sees it only once the callback is overdue, and a late callback closes missed, not superseded.
    assert {"done", "overdue", "missed" if skipped else "superseded"} <= statuses
    for table in full:
        assert delta[table] == full[table], table


def test_a_changed_catalogue_makes_the_next_cycle_look_at_everyone(province, sim, monkeypatch):
    looked = builders.cycle_looks(monkeypatch)
    builders.customer(city_obj=province["city"], activated_on=DAY0)
    for n, change in ((0, None), (1, None), (2, "fee")):
        if change:
            package = builders.package("A66")
            package.monthly_fee = 68
            package.save()
        looked.clear()
        sim.at = clock.cycle_instant(day(n))  # a cycle runs on its day, never ahead of the clock
        cycle.cycle_run(as_of=sim.at, gateway=province["gateway"])
        assert all(since is None for since in looked) == (n == 0 or change == "fee"), n


def test_the_delta_is_the_previous_cycles_day_and_this_cycles_change_lines_and_a_cut_off_cycle_means_a_full_look(
    province, monkeypatch
):
    from onboard90.journeys.changes import changes_consume

    as_of = clock.cycle_instant(day(5))
    customer = builders.customer(city_obj=province["city"], activated_on=day(0))  # written: lines in the log
    previous = CycleRun.objects.create(as_of=as_of, started_at=as_of, status="finished", digest="d")
    run = CycleRun.objects.create(as_of=as_of + dt.timedelta(days=1), started_at=as_of, status="running", digest="d")
    touched = changes_consume(run=run)
    assert touched >= 1
    since = changes.since_previous(previous, digest="d", run=run, touched=touched)
    assert since.day == day(5) and since.run_id == run.pk
    assert set(since.customers().values_list("customer_id", flat=True)) == {customer.pk}
    assert changes.since_previous(previous, digest="other", run=run, touched=touched) is None  # catalogue or playbooks changed
    monkeypatch.setattr(changes, "DELTA_MIN_TOUCHED", 0)  # this province's 1 journey is more than a tenth
    assert changes.since_previous(previous, digest="d", run=run, touched=touched) is None
    monkeypatch.undo()
    assert changes.since_previous(None, digest="d", run=run, touched=touched) is None
    # A cycle begun after `previous` that did not finish (killed, or still marked running) may have opened
    # acts whose customers then changed: the next cycle looks at everything.
    CycleRun.objects.create(as_of=as_of + dt.timedelta(days=1), started_at=as_of, status="failed")
    assert changes.since_previous(previous, digest="d", run=run, touched=touched) is None


def as_on_workers(*, as_of, gateway, rescan):
    """A cycle as Celery workers run it (journeys.tasks), in this process: the plan, then each stage's pieces in
    an order of their own (last first, as two workers may finish them), then the shared steps."""
    run = cycle.cycle_start(as_of=as_of, rescan=rescan)
    stage = 0
    while (names := cycle.stage_pieces(run_id=run.pk, stage=stage)) is not None:
        for name in reversed(names):
            cycle.piece_run(run_id=run.pk, name=name, gateway=gateway)
        stage += 1
    return cycle.cycle_finish(run_id=run.pk)


def test_cycles_fanned_out_in_stages_end_where_the_pieces_one_after_another_do(province, sim):
    """The same twenty days, each cycle's pieces run stage by stage in another order (as on workers) and one after
    another in plan order (as in one process), write the same rows, and record the same counts."""
    before = transaction.savepoint()
    history(province, sim, rescan=False, run=as_on_workers)
    fanned = snapshot()
    fanned_counts = list(CycleRun.objects.order_by("as_of").values_list("as_of", "status", "counts"))
    assert CycleRun.objects.filter(on_workers=True).count() == 21
    transaction.savepoint_rollback(before)

    sim.at = clock.at_local(DAY0, 0)
    history(province, sim, rescan=False)
    one = snapshot()
    assert not CycleRun.objects.filter(on_workers=True).exists()

    assert fanned["acts"] and fanned["tasks"] and fanned["escalations"] and fanned["sms"]
    for table in one:
        assert fanned[table] == one[table], table
    assert fanned_counts == list(CycleRun.objects.order_by("as_of").values_list("as_of", "status", "counts"))
