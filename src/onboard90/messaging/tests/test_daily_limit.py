"""SMS a customer can bear: the plan's day-0 notices leave one a day, and no customer gets more than the
playbook's `sms_daily_limit` (2) of the plan's SMS on one day — a late-loaded customer included.

Each test runs the real daily cycles, day after day, on a scratch history whose wall clock stands at 10:30
of each day, with the shipped playbook.
"""

from __future__ import annotations

import collections
import datetime as dt

import pytest

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.journeys import cycle
from onboard90.journeys.models import JourneyAction
from onboard90.messaging.enums import MessageStatus
from onboard90.messaging.gateways import MemoryGateway
from onboard90.messaging.models import OutboxMessage
from onboard90.messaging.services import DAILY_LIMIT

pytestmark = pytest.mark.django_db

DAY0 = dt.date(2012, 3, 1)
STAGE_1_SMS = ["tariff_notice", "channels_notice", "billing_notice", "data_usage_notice"]


@pytest.fixture
def plan():
    builders.scratch_database()
    builders.playbook_version()
    return builders.city("jinan")


def run_days(days, gateway: MemoryGateway) -> None:
    for day in days:
        with clock.simulated(clock.at_local(DAY0 + dt.timedelta(days=day), 10, 30)):
            cycle.cycle_run(as_of=clock.cycle_instant(DAY0 + dt.timedelta(days=day)), gateway=gateway)


def sent_per_day(customer) -> dict[dt.date, list[str]]:
    days: dict[dt.date, list[str]] = collections.defaultdict(list)
    for code, sent_at in OutboxMessage.objects.filter(customer=customer, status=MessageStatus.SENT).values_list(
        "action__action_code", "sent_at"
    ):
        days[clock.local_date(sent_at)].append(code)
    return dict(days)


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


def test_the_four_day_0_notices_leave_one_a_day_in_the_plans_order(plan):
    customer = builders.customer(city_obj=plan, activated_on=DAY0)
    run_days(range(4), MemoryGateway())
    assert sent_per_day(customer) == {
        day(0): ["tariff_notice"], day(1): ["channels_notice"], day(2): ["billing_notice"], day(3): ["data_usage_notice"],
    }


def test_a_vip_rated_mid_week_gets_the_tier_notice_beside_that_days_notice_and_no_more(plan):
    customer = builders.customer(
        city_obj=plan, activated_on=DAY0, vip_tier=builders.vip_tier("gold"), vip_rated_on=day(2)
    )
    run_days(range(4), MemoryGateway())
    per_day = sent_per_day(customer)
    assert sorted(per_day[day(2)]) == ["billing_notice", "tier_benefits_notice"]
    assert all(len(codes) <= 2 for codes in per_day.values())


def test_a_customer_loaded_on_day_2_gets_two_that_day_and_the_rest_on_day_3(plan):
    run_days(range(2), MemoryGateway())
    customer = builders.customer(city_obj=plan, activated_on=DAY0)  # loaded late: their days 0 and 1 went by
    run_days([2, 3], MemoryGateway())
    per_day = sent_per_day(customer)
    assert len(per_day[day(2)]) == 2 and len(per_day[day(3)]) == 2
    assert sorted(per_day[day(2)] + per_day[day(3)]) == sorted(STAGE_1_SMS)  # every notice delivered


def test_a_customer_loaded_on_the_last_day_gets_two_and_the_others_are_missed_by_the_limit_in_the_figures(plan):
    run_days(range(3), MemoryGateway())
    customer = builders.customer(city_obj=plan, activated_on=DAY0)
    gateway = MemoryGateway()
    run_days([3], gateway)

    assert len(gateway.sent) == 2  # not four at once
    missed = OutboxMessage.objects.filter(customer=customer, status=MessageStatus.MISSED)
    assert missed.count() == 2 and set(missed.values_list("last_error", flat=True)) == {DAILY_LIMIT}
    # The acts they carried alone are missed, with the reason, not silently done or dropped.
    reasons = set(
        JourneyAction.objects.filter(sms__in=missed, journey__customer=customer).values_list("reason", flat=True)
    )
    assert reasons <= {"sms_daily_limit"} and missed.filter(action__status="missed").exists()


def test_without_a_limit_the_dispatcher_sends_everything_due(plan):
    from onboard90.messaging.services import outbox_dispatch

    run_days(range(3), MemoryGateway())
    builders.customer(city_obj=plan, activated_on=DAY0)
    with clock.simulated(clock.at_local(day(3), 9)):
        cycle.cycle_run(as_of=clock.cycle_instant(day(3)), dispatch=False)
    gateway = MemoryGateway()
    outbox_dispatch(
        as_of=clock.cycle_instant(day(3)), quiet_hours=("08:00", "21:00"), gateway=gateway,
        now=lambda: clock.at_local(day(3), 10, 30), daily_limit=None,
    )
    assert len(gateway.sent) == 4


def test_the_daily_count_reads_the_rounds_customers_not_every_message_ever_sent(plan):
    """The count runs once a round (200 messages): led by the status index instead of the round's customers,
    it read every message ever sent, each round (a 1M day's dispatch went from 15 s to over ten minutes)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from onboard90.messaging.services import _sent_today

    round_ = [OutboxMessage(customer_id=n) for n in range(1, 201)]  # a round's 200 (SQLite weighs the IN list)
    with CaptureQueriesContext(connection) as queries:
        _sent_today(round_, clock.cycle_instant(dt.date(2012, 3, 1)))
    (sql,) = [q["sql"] for q in queries.captured_queries]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            plan = " ".join(str(row) for row in cursor.fetchall())
            assert "customer_id" in plan and "status_6c40c9" not in plan and "MULTI-INDEX OR" not in plan, plan
        else:
            cursor.execute(f"EXPLAIN {sql}")
            plan = " ".join(row[0] for row in cursor.fetchall())
            assert "status_6c40c9" not in plan, plan
