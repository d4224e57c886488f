"""Honest figures (如实统计): overdue work counts against the on-time rate, a backdated completion is counted
apart, unassigned work has its own row by staff, every report ends with a province total, a due-date range,
and reports default to now — one definition (`selectors.figures`) on every surface."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.journeys import selectors, services
from onboard90.journeys.enums import ActionStatus
from onboard90.journeys.models import CycleRun, JourneyAction, Task
from onboard90.journeys.tests.test_plan_walkthrough import DAY0, complete_everything, day, run

pytestmark = pytest.mark.django_db

COUNTS = ["done", "done_late", "backdated", "missed", "open", "overdue"]


def at(n: int, hour: int = 11) -> clock.dt.datetime:
    return clock.at_local(day(n), hour)


def row_of(report: dict, label: str) -> dict:
    return next(r for r in report["rows"] if r[report["by"]] == label)


def _province_day_4(province, customers: int = 2):
    """Customers activated on day 0, walked to day 4: their store acts overdue (store work assigned to no
    one), their first callbacks open at the call centre, their SMS-only notices sent."""
    made = [builders.customer(city_obj=province["city"], activated_on=DAY0) for _ in range(customers)]
    run(province, 0, 4)
    return made


def test_figures_are_one_definition():
    row = selectors.figures(done=8, done_late=1, backdated=1, missed=0, open=5, overdue=2)
    assert row["due"] == 8 + 1 + 1 + 0 + 5 + 2
    assert row["on_time_rate"] == round(8 / 12, 4)  # open-not-yet-due left out; overdue and backdated count against
    assert selectors.figures(done=0, done_late=0, backdated=0, missed=0, open=3, overdue=0)["on_time_rate"] is None
    assert list(row) == selectors.FIGURES


def test_overdue_acts_count_against_the_on_time_rate(province):
    on_time = builders.customer(city_obj=province["city"], activated_on=DAY0)
    builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0, 2, work=lambda n: complete_everything(on_time, on_day=n) if n == 1 else None)
    run(province, 3, 4)

    report = selectors.compliance_report(by="action", as_of=at(4, 12))
    tariff = row_of(report, "tariff_notice")
    assert (tariff["done"], tariff["overdue"], tariff["due"]) == (1, 1, 2)
    # One done on time and one still undone past its due time is half on time, not 100 %.
    assert tariff["on_time_rate"] == 0.5
    callback = row_of(report, "first_callback")
    assert (callback["open"], callback["overdue"], callback["on_time_rate"]) == (2, 0, None)  # not yet due


def test_an_open_act_past_its_due_time_is_overdue_before_the_next_cycle_marks_it(province):
    builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0, 3)  # the store acts are due by the end of day 3; the day-4 cycle has not run
    assert JourneyAction.objects.filter(action_code="tariff_notice", status=ActionStatus.OPEN).count() == 1

    during_day_3 = row_of(selectors.compliance_report(by="action", as_of=at(3, 20)), "tariff_notice")
    just_after_midnight = row_of(selectors.compliance_report(by="action", as_of=at(4, 0) + clock.dt.timedelta(minutes=5)), "tariff_notice")
    assert (during_day_3["open"], during_day_3["overdue"]) == (1, 0)
    assert (just_after_midnight["open"], just_after_midnight["overdue"], just_after_midnight["on_time_rate"]) == (0, 1, 0.0)


def test_backdated_completion_is_counted_apart_not_on_time(province):
    first, _second = _province_day_4(province)
    tariff = Task.objects.get(journey__customer=first, action__action_code="tariff_notice")
    services.task_complete(
        task=tariff, outcome="reached", completed_by=province["supervisor"], at=at(2), now=at(4, 12),
        reason="纸质登记表补录",
    )
    tariff.refresh_from_db()
    assert tariff.backdated and tariff.status == ActionStatus.DONE  # it claims day 2, within the window

    report = selectors.compliance_report(by="action", as_of=at(4, 12))
    row = row_of(report, "tariff_notice")
    assert (row["done"], row["done_late"], row["backdated"], row["overdue"], row["due"]) == (0, 0, 1, 1, 2)
    assert row["on_time_rate"] == 0.0  # a completion entered two days late is not proof of on-time work


def test_staff_report_shows_unassigned_store_work_on_its_own_row(province):
    first, _second = _province_day_4(province)
    callback = Task.objects.get(journey__customer=first, action__action_code="first_callback")
    services.task_complete(task=callback, outcome="reached", completed_by=province["agent"], at=at(4, 12), now=at(4, 12))

    report = selectors.compliance_report(by="staff", as_of=at(4, 13))
    unassigned = {r["unit"]: r for r in report["rows"] if r["unit"] is not None}
    assert unassigned["jinan-store-1"]["staff"] == f"{selectors.UNASSIGNED} @ jinan-store-1"
    assert unassigned["jinan-store-1"]["overdue"] == Task.objects.filter(
        owner_unit__code="jinan-store-1", assignee=None, status=ActionStatus.OVERDUE
    ).count() > 0
    agent = row_of(report, province["agent"].username)
    assert (agent["done"], agent["unit"]) == (1, None)
    # People first, then each unit's unassigned work: every task-act is on exactly one row.
    assert [r["unit"] is not None for r in report["rows"]] == sorted(r["unit"] is not None for r in report["rows"])
    task_acts = JourneyAction.objects.filter(task__isnull=False, status__in=selectors.COUNTED).count()
    assert sum(r["due"] for r in report["rows"]) == report["total"]["due"] == task_acts


def test_sms_only_acts_are_left_out_of_the_staff_view_only(province):
    _province_day_4(province)
    by_staff = selectors.compliance_report(by="staff", as_of=at(4, 12))["total"]["due"]
    by_action = selectors.compliance_report(by="action", as_of=at(4, 12))["total"]["due"]
    sms_only = JourneyAction.objects.filter(task__isnull=True, status__in=selectors.COUNTED).count()
    assert sms_only > 0
    assert by_action - by_staff == sms_only


@pytest.mark.parametrize("by", ["city", "store", "staff", "action"])
def test_every_report_ends_with_a_province_total_by_the_same_definitions(province, by):
    _province_day_4(province)
    report = selectors.compliance_report(by=by, as_of=at(4, 12))
    total = report["total"]
    assert total[by] == selectors.PROVINCE
    sums = {name: sum(r[name] for r in report["rows"]) for name in COUNTS}
    assert {name: total[name] for name in COUNTS} == sums
    assert total == {by: selectors.PROVINCE, **selectors.figures(**sums)}


def test_the_cli_json_and_table_carry_the_same_total(province, capsys):
    _province_day_4(province)
    call_command("report", "compliance", "--by", "store", "--date", day(4).isoformat(), "--json")
    document = json.loads(capsys.readouterr().out)
    assert document["total"] == selectors.compliance_report(by="store", as_of=clock.cycle_instant(day(4)))["total"]

    table = io.StringIO()
    call_command("report", "compliance", "--by", "store", "--date", day(4).isoformat(), stdout=table)
    last = table.getvalue().splitlines()[-1].split()
    assert last[:3] == ["全省", "/", "province"]
    rate = document["total"]["on_time_rate"]
    assert last[3:] == [*(str(document["total"][h]) for h in selectors.FIGURES[:-1]), f"{rate:.1%}"]


def test_a_due_date_range_keeps_the_acts_due_in_it(province):
    _province_day_4(province)
    everything = selectors.compliance_report(by="action", as_of=at(4, 12))["total"]["due"]
    early = selectors.compliance_report(by="action", as_of=at(4, 12), due_from=day(0), due_to=day(3))["total"]["due"]
    late = selectors.compliance_report(by="action", as_of=at(4, 12), due_from=day(4))["total"]["due"]
    assert early and late and early + late == everything
    just_day_3 = selectors.compliance_report(by="action", as_of=at(4, 12), due_from=day(3), due_to=day(3))
    assert just_day_3["total"]["due"] == early  # the store acts and notices are all due by the end of day 3
    with pytest.raises(ValueError, match="after"):
        selectors.compliance_report(by="city", as_of=at(4), due_from=day(3), due_to=day(1))


def test_reports_default_to_now_never_to_a_later_cycle(province, capsys):
    _province_day_4(province)
    # A cycle recorded far ahead (run with a wrong --date before the guard existed) must not move the reports.
    CycleRun.objects.create(as_of=clock.cycle_instant(clock.dt.date(2099, 1, 1)), started_at=at(4), status="finished")
    builders.scratch_database()
    with clock.simulated(at(4, 12)):
        assert selectors.default_as_of() == at(4, 12)
        call_command("report", "compliance", "--json")
    assert json.loads(capsys.readouterr().out)["as_of"].startswith(day(4).isoformat())
    assert selectors.default_as_of() <= clock.now()


@pytest.mark.parametrize("by", ["city", "store", "staff", "action"])
def test_the_reports_queries_do_not_grow_with_its_rows(province, by, django_assert_max_num_queries):
    _province_day_4(province, customers=1)
    with CaptureQueriesContext(connection) as small:
        small_report = selectors.compliance_report(by=by, as_of=at(4, 12))
    for code in ("qingdao", "zibo"):  # more cities, stores and people: more rows
        city = builders.city(code)
        for _ in range(3):
            builders.customer(city_obj=city, activated_on=day(5))
    run(province, 5)
    with django_assert_max_num_queries(len(small.captured_queries)):
        large_report = selectors.compliance_report(by=by, as_of=at(5, 12))
    assert large_report["total"]["due"] > small_report["total"]["due"]
    if by != "action":
        assert len(large_report["rows"]) > len(small_report["rows"])
