"""A VIP rating replaces the ordinary first callback only while that callback is still in time (方案: 同一周内不重复
回访). One already late — overdue, or open past its due time — closes as missed: its broken clock stays in every
figure rather than dropping out as "superseded"."""

from __future__ import annotations

import pytest

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.journeys import engine, selectors
from onboard90.journeys.enums import ActionStatus
from onboard90.journeys.models import JourneyAction, Task
from onboard90.journeys.tests.test_plan_walkthrough import DAY0, day, rate_vip, run, status
from onboard90.messaging.enums import MessageStatus
from onboard90.messaging.models import OutboxMessage
from onboard90.playbook.selectors import current_version, playbook_of

pytestmark = pytest.mark.django_db


def first_callback(customer) -> JourneyAction:
    return JourneyAction.objects.get(journey__customer=customer, action_code="first_callback")


def callback_figures(as_of) -> dict:
    report = selectors.compliance_report(by="action", as_of=as_of)
    return next(r for r in report["rows"] if r["action"] == "first_callback")


def test_overdue_first_callback_closes_missed_when_vip_rating_arrives(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0, 11)
    assert status(customer, "first_callback") == ActionStatus.OVERDUE  # due by the end of day 10
    rate_vip(customer, "silver", 12)
    run(province, 12)

    act = first_callback(customer)
    assert (act.status, act.reason) == (ActionStatus.MISSED, "overdue_when_superseded")
    assert act.closed_at == clock.cycle_instant(day(12))
    task = Task.objects.get(action=act)
    assert (task.status, task.completed_at) == (ActionStatus.MISSED, clock.cycle_instant(day(12)))
    assert status(customer, "vip_first_callback") == ActionStatus.OPEN  # the VIP's own call still follows
    row = callback_figures(clock.cycle_instant(day(12)))
    assert (row["due"], row["missed"], row["on_time_rate"]) == (1, 1, 0.0)  # the broken SLA stays in the figures


def test_open_first_callback_past_its_due_time_closes_missed_too(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0, 10)
    assert status(customer, "first_callback") == ActionStatus.OPEN  # due by the end of day 10, not yet marked
    rate_vip(customer, "silver", 11)
    run(province, 11)  # the supersede looks before the day's overdue marking: the due time decides, not the flag
    act = first_callback(customer)
    assert (act.status, act.reason) == (ActionStatus.MISSED, "overdue_when_superseded")
    assert Task.objects.get(action=act).status == ActionStatus.MISSED


def test_open_first_callback_is_superseded_by_vip_rating(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0, 6)
    assert callback_figures(clock.cycle_instant(day(6)))["open"] == 1
    rate_vip(customer, "gold", 7)
    run(province, 7)

    act = first_callback(customer)
    assert (act.status, act.reason) == (ActionStatus.SUPERSEDED, "superseded_by:vip_first_callback")
    assert Task.objects.get(action=act).status == ActionStatus.SUPERSEDED
    # Replaced in time, it was never owed: it leaves the figures, and the VIP's call is counted instead.
    report = selectors.compliance_report(by="action", as_of=clock.cycle_instant(day(7)))
    assert "first_callback" not in {r["action"] for r in report["rows"]}
    assert next(r for r in report["rows"] if r["action"] == "vip_first_callback")["open"] == 1


def test_one_supersede_closes_the_late_missed_and_the_timely_superseded_with_their_deliveries(province):
    late = builders.customer(city_obj=province["city"], activated_on=DAY0)
    timely = builders.customer(city_obj=province["city"], activated_on=day(3))
    run(province, 0, 11)
    assert (status(late, "first_callback"), status(timely, "first_callback")) == (ActionStatus.OVERDUE, ActionStatus.OPEN)
    # A queued message on each act (a playbook may add an SMS to a callback): none may leave once it is closed.
    for customer in (late, timely):
        act = first_callback(customer)
        OutboxMessage.objects.create(
            action=act, customer=customer, msisdn=customer.msisdn, message_class="service", text="回访提醒",
            scheduled_at=clock.cycle_instant(day(12)), not_after=clock.end_of_day(day(12)),
            created_at=clock.cycle_instant(day(11)),
        )
    for customer in (late, timely):
        rate_vip(customer, "silver", 12)

    version = current_version()
    action = next(a for a in playbook_of(version).actions if a.code == "first_callback")
    closed = engine.supersede(version=version, action=action, as_of=clock.cycle_instant(day(12)))

    assert closed == 2
    late_act, timely_act = first_callback(late), first_callback(timely)
    assert (late_act.status, timely_act.status) == (ActionStatus.MISSED, ActionStatus.SUPERSEDED)
    assert (Task.objects.get(action=late_act).status, Task.objects.get(action=timely_act).status) == (
        ActionStatus.MISSED, ActionStatus.SUPERSEDED,
    )
    messages = {m.action_id: m for m in OutboxMessage.objects.all()}
    assert messages[late_act.pk].status == messages[timely_act.pk].status == MessageStatus.CANCELLED
    assert messages[late_act.pk].last_error == "overdue_when_superseded"
    assert messages[timely_act.pk].last_error == "superseded_by:vip_first_callback"
    # Already closed: a second look changes nothing.
    assert engine.supersede(version=version, action=action, as_of=clock.cycle_instant(day(12))) == 0


def test_the_supersede_is_a_few_statements_whatever_the_number_of_acts(province, django_assert_max_num_queries):
    customers = [builders.customer(city_obj=province["city"], activated_on=DAY0 if i % 2 else day(3)) for i in range(12)]
    run(province, 0, 11)
    for customer in customers:
        rate_vip(customer, "silver", 12)
    version = current_version()
    action = next(a for a in playbook_of(version).actions if a.code == "first_callback")
    # One read of the candidates, then per group (late, in time) the tasks, the messages and the acts.
    with django_assert_max_num_queries(10):
        closed = engine.supersede(version=version, action=action, as_of=clock.cycle_instant(day(12)))
    assert closed == 12
    assert JourneyAction.objects.filter(action_code="first_callback", status=ActionStatus.MISSED).count() == 6
    assert JourneyAction.objects.filter(action_code="first_callback", status=ActionStatus.SUPERSEDED).count() == 6
