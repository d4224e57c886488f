"""Honest figures (如实统计): overdue work counts against the on-time rate, a backdated completion is counted
apart, unassigned work has its own row by staff, a province total, a due-date range — one definition on every
surface — and a late VIP rating does not wipe an already broken callback clock."""

from __future__ import annotations

import pytest

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.journeys import selectors, services
from onboard90.journeys.enums import ActionStatus
from onboard90.journeys.models import JourneyAction, Task
from onboard90.journeys.tests.test_plan_walkthrough import DAY0, day, rate_vip, run, status

pytestmark = pytest.mark.django_db


def at(n: int, hour: int = 11) -> clock.dt.datetime:
    return clock.at_local(day(n), hour)


def test_figures_count_overdue_work_against_the_on_time_rate_and_backdated_work_apart():
    row = selectors.figures(done=8, done_late=1, backdated=1, missed=0, open=5, overdue=2)
    assert row["due"] == 17
    assert row["on_time_rate"] == round(8 / 12, 4)  # open-not-yet-due left out; overdue and backdated count against
    assert selectors.figures(done=0, done_late=0, backdated=0, missed=0, open=3, overdue=0)["on_time_rate"] is None


def test_overdue_first_callback_closes_missed_when_the_vip_rating_arrives(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0, 11)
    assert status(customer, "first_callback") == ActionStatus.OVERDUE
    rate_vip(customer, "silver", 12)
    run(province, 12)
    act = JourneyAction.objects.get(journey__customer=customer, action_code="first_callback")
    assert (act.status, act.reason) == (ActionStatus.MISSED, "overdue_when_superseded")
    assert Task.objects.get(action=act).status == ActionStatus.MISSED
    report = selectors.compliance_report(by="action", as_of=clock.cycle_instant(day(12)))
    row = next(r for r in report["rows"] if r["action"] == "first_callback")
    assert row["missed"] == 1  # the broken SLA stays in the figures (one still in time is superseded: see
    # test_plan_walkthrough.test_vip_rated_on_day_7_supersedes_the_open_ordinary_callback)


def _province_day_4(province):
    """Two customers on day 4: their four store acts overdue (unassigned store work), callbacks open."""
    first, second = (builders.customer(city_obj=province["city"], activated_on=DAY0) for _ in range(2))
    run(province, 0, 4)
    return first, second


def test_the_report_counts_overdue_and_backdated_work_honestly(province):
    first, _second = _province_day_4(province)
    tariff = Task.objects.get(journey__customer=first, action__action_code="tariff_notice")
    services.task_complete(
        task=tariff, outcome="reached", completed_by=province["supervisor"], at=at(2), now=at(4, 12),
        reason="纸质登记表补录",
    )
    report = selectors.compliance_report(by="action", as_of=at(4, 12))
    row = next(r for r in report["rows"] if r["action"] == "tariff_notice")
    assert (row["done"], row["backdated"], row["overdue"]) == (0, 1, 1)
    assert row["on_time_rate"] == 0.0  # a completion entered two days late is not proof of on-time work
    total = report["total"]
    assert total["due"] == sum(r["due"] for r in report["rows"])
    assert total["overdue"] == Task.objects.filter(status=ActionStatus.OVERDUE).count() + JourneyAction.objects.filter(
        status=ActionStatus.OVERDUE, task__isnull=True
    ).count()


def test_staff_report_shows_unassigned_store_work_on_its_own_row(province):
    _province_day_4(province)
    report = selectors.compliance_report(by="staff", as_of=at(4, 12))
    unassigned = [r for r in report["rows"] if r["staff"].startswith(selectors.UNASSIGNED)]
    assert {r["unit"] for r in unassigned} >= {"jinan-store-1", "jinan-cc"}
    assert sum(r["due"] for r in report["rows"]) == Task.objects.filter(
        status__in=[ActionStatus.OPEN, ActionStatus.OVERDUE, ActionStatus.DONE, ActionStatus.DONE_LATE,
                    ActionStatus.MISSED]
    ).count()


def test_a_due_date_range_keeps_the_acts_due_in_it(province):
    _province_day_4(province)
    everything = selectors.compliance_report(by="action", as_of=at(4, 12))["total"]["due"]
    early = selectors.compliance_report(by="action", as_of=at(4, 12), due_from=day(0), due_to=day(3))["total"]["due"]
    late = selectors.compliance_report(by="action", as_of=at(4, 12), due_from=day(4))["total"]["due"]
    assert early and late and early + late == everything
    with pytest.raises(ValueError, match="after"):
        selectors.compliance_report(by="city", as_of=at(4), due_from=day(3), due_to=day(1))


@pytest.mark.parametrize("by", ["city", "store", "staff", "action"])
def test_the_reports_queries_do_not_grow_with_its_rows(province, by, django_assert_max_num_queries):
    _province_day_4(province)
    with django_assert_max_num_queries(2):
        selectors.compliance_report(by=by, as_of=at(4, 12))
