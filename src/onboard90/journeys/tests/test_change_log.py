"""The change log: every write of a customer is a line, the cycle consumes them, and what the cycle does does
not depend on the wall clock."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.customers import services as customer_services
from onboard90.customers.models import Customer, CustomerChange
from onboard90.journeys import cycle, services
from onboard90.journeys.changes import RETAIN, changes_prune
from onboard90.journeys.models import CycleRun, JourneyAction, Task
from onboard90.journeys.tests.test_cycle_delta import snapshot
from onboard90.journeys.tests.test_plan_walkthrough import DAY0, day

pytestmark = pytest.mark.django_db


def lines(**filters) -> list[int]:
    return list(CustomerChange.objects.filter(**filters).order_by("pk").values_list("customer_id", flat=True))


def test_every_write_of_a_customer_is_a_line_whatever_path_wrote_it(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)  # the row, then its journey
    assert lines() == [customer.pk, customer.pk]
    CustomerChange.objects.all().delete()

    customer_services.customer_rate_vip(customer=customer, tier=builders.vip_tier("gold"), rated_at=clock.at_local(day(1)))
    Customer.objects.filter(pk=customer.pk).update(marketing_opt_out=True)  # a bulk update, no model code
    customer.refresh_from_db()
    customer.handset_os = "ios"
    customer.save()  # the admin's way
    assert lines() and set(lines()) == {customer.pk} and len(lines()) >= 3


def test_a_cycle_consumes_the_lines_and_a_cycle_cut_off_leaves_its_lines_to_the_next(province, monkeypatch):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    first = cycle.cycle_run(as_of=clock.cycle_instant(day(0)), dispatch=False)
    assert lines(consumed_by__isnull=True) == [] and set(lines(consumed_by=first.pk)) == {customer.pk}

    customer_services.customer_rate_vip(customer=customer, tier=builders.vip_tier("gold"), rated_at=clock.at_local(day(1)))
    from onboard90.journeys import engine

    def dies(**_kwargs):
        raise RuntimeError("killed mid-cycle")

    monkeypatch.setattr(engine, "mark_overdue", dies)
    with pytest.raises(RuntimeError):
        cycle.cycle_run(as_of=clock.cycle_instant(day(1)), dispatch=False)
    died = CycleRun.objects.get(status="failed")
    assert set(lines(consumed_by=died.pk)) == {customer.pk}  # claimed, not finished

    monkeypatch.undo()
    again = cycle.cycle_run(as_of=clock.cycle_instant(day(1)), dispatch=False)
    assert set(lines(consumed_by=again.pk)) == {customer.pk} and not lines(consumed_by=died.pk)
    # The VIP rating was seen: the manager assignment act opened for them.
    assert JourneyAction.objects.filter(journey__customer=customer, action_code="vip_manager_assignment").exists()


def test_lines_of_finished_cycles_are_pruned_after_a_week_of_business_days(province):
    builders.customer(city_obj=province["city"], activated_on=DAY0)
    old = cycle.cycle_run(as_of=clock.cycle_instant(day(0)), dispatch=False)
    assert lines(consumed_by=old.pk)
    assert changes_prune(as_of=old.as_of + RETAIN) == 0  # not older than the week yet
    assert changes_prune(as_of=old.as_of + RETAIN + dt.timedelta(days=1)) >= 1
    assert not lines(consumed_by=old.pk)


def twelve_days(province, wall: clock.SimulatedClock, lag: dt.timedelta) -> None:
    """Arrivals, a late load, VIP ratings and a number change, cycles and staff work over twelve days, with
    the world's clock standing `lag` after the business instant of each step."""
    city = province["city"]
    people = {}
    for n in range(12):
        wall.at = clock.at_local(day(n), 0, 30) + lag
        if n <= 4:
            people[n] = builders.customer(city_obj=city, activated_on=day(n), msisdn=f"1850001{n:02d}01")
            builders.customer(city_obj=city, activated_on=day(n), number_changed=n % 2 == 0, msisdn=f"1850001{n:02d}02")
        if n == 6:
            builders.customer(city_obj=city, activated_on=day(1), msisdn="18500019901")  # loaded late
        if n == 3:
            customer_services.customer_rate_vip(customer=people[1], tier=builders.vip_tier("gold"), rated_at=clock.at_local(day(3), 0, 20))
        if n == 5:
            customer_services.customer_change_number(
                customer=people[2], previous_msisdn="13012340002", at=clock.at_local(day(5), 0, 20)
            )
        wall.at = clock.cycle_instant(day(n)) + lag
        cycle.cycle_run(as_of=clock.cycle_instant(day(n)), dispatch=False)
        wall.at = clock.at_local(day(n), 15) + lag
        work = Task.objects.filter(status="open").order_by("journey__customer__msisdn", "action__action_code")
        for task in work[::2]:
            services.task_complete(task=task, outcome="reached", at=clock.at_local(day(n), 14), completed_by=province["supervisor"])


def test_the_same_writes_and_cycles_under_two_wall_clocks_give_the_same_rows(province, monkeypatch):
    builders.scratch_database()
    looked = builders.cycle_looks(monkeypatch)
    before = transaction.savepoint()
    with clock.simulated(clock.at_local(DAY0, 0)) as wall:
        twelve_days(province, wall, lag=dt.timedelta(0))
    on_time = snapshot()
    transaction.savepoint_rollback(before)
    assert any(since is not None for since in looked), "the delta never ran"

    looked.clear()
    # The same history with every step seven hours later by the wall clock (cycles run in the afternoon,
    # loads mid-morning): nothing the cycles decide may move.
    with clock.simulated(clock.at_local(DAY0, 7)) as wall:
        twelve_days(province, wall, lag=dt.timedelta(hours=7))
    assert any(since is not None for since in looked)
    later = snapshot()

    assert on_time["acts"] and on_time["tasks"]
    for table in on_time:
        assert later[table] == on_time[table], table


def test_the_change_log_triggers_are_in_the_migrated_database():
    """A later migration that rebuilds the customers or journeys table (SQLite remakes a table for most column
    changes) would drop the triggers silently, and every delta cycle after it would miss the day's customers."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        names = {row[0] for row in cursor.fetchall()}
    assert {
        "customers_change_on_insert", "customers_change_on_update", "journeys_change_on_insert", "reporting_customer_moved",
    } <= names
