"""The dashboard's operations figures on hand-built cases: the VIP clocks (方案: 评定后3天内分配客户经理，分配后7天内
首次回访; 滞后评级), the SMS outbox by status, and the 14-day workload forecast from the journeys already open."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.journeys import cycle
from onboard90.journeys.enums import ActionStatus
from onboard90.journeys.models import Journey, JourneyAction, Task
from onboard90.messaging import policy
from onboard90.messaging.enums import Delivery, MessageStatus
from onboard90.messaging.models import OutboxMessage
from onboard90.org.enums import Role, UnitKind
from onboard90.org.scoping import scope_of
from onboard90.reporting.operations import FORECAST_DAYS, operations_overview

pytestmark = pytest.mark.django_db

TODAY = dt.date(2012, 6, 1)


@pytest.fixture
def cities():
    """济南 and 青岛 with their units and a supervisor each, on the default playbook."""
    builders.package("A66")
    builders.package(
        "P20", product="prepaid", family="prepaid", monthly_fee=20, voice_min=0, data_mb=0, sms=0
    )
    for code in ("gold", "silver"):
        builders.vip_tier(code)
    builders.playbook_version()
    made = {}
    for code in ("jinan", "qingdao"):
        city = builders.city(code)
        made[code] = {
            "city": city,
            "supervisor": builders.staff(f"boss_{code}", role=Role.SUPERVISOR, city_obj=city),
            "manager": builders.staff(f"am_{code}", role=Role.ACCOUNT_MANAGER, city_obj=city),
        }
    return made


def overview(user, *, date_from=TODAY - dt.timedelta(days=30), date_to=TODAY, only=None):
    return operations_overview(
        scope=scope_of(user), date_from=date_from, date_to=date_to, today=TODAY, only=only
    )


def vip(
    city,
    manager,
    *,
    activated: dt.date,
    rated: dt.date,
    assigned: dt.date | None = None,
    called: str | None = None,
):
    """A VIP activated, rated and (maybe) assigned on the given days; `called` the status of their VIP first
    callback (done / done_late), recorded as the engine and the manager's completion leave it."""
    customer = builders.customer(
        city_obj=city,
        activated_on=activated,
        vip_tier=builders.vip_tier("gold"),
        vip_rated_at=clock.at_local(rated, 9),
        vip_rated_on=rated,
    )
    if assigned is not None:
        customer.account_manager = manager
        customer.manager_assigned_at, customer.manager_assigned_on = clock.at_local(assigned, 6), assigned
        customer.save()
    if called is not None:
        journey = Journey.objects.get(customer=customer)
        due = clock.end_of_day(assigned + dt.timedelta(days=7))
        act = JourneyAction.objects.create(
            journey=journey,
            customer=customer,
            action_code="vip_first_callback",
            stage=2,
            status=called,
            window_start=assigned,
            window_end=assigned + dt.timedelta(days=7),
            due_at=due,
            opened_at=clock.at_local(assigned, 6),
            closed_at=clock.at_local(assigned, 15),
        )
        Task.objects.create(
            action=act,
            journey=journey,
            customer=customer,
            owner_unit=builders.unit(city, UnitKind.ACCOUNT_MANAGER_TEAM),
            assignee=manager,
            status=called,
            due_at=due,
            created_at=act.opened_at,
            completed_at=act.closed_at,
        )
    return customer


def test_vip_clocks_count_assignment_within_3_days_callback_within_7_and_late_ratings(cities):
    jinan, qingdao = cities["jinan"], cities["qingdao"]
    x = TODAY - dt.timedelta(days=20)  # rating day X
    # Assigned on X+2, called in time: both clocks kept.
    vip(
        jinan["city"],
        jinan["manager"],
        activated=x - dt.timedelta(days=5),
        rated=x,
        assigned=x + dt.timedelta(days=2),
        called=ActionStatus.DONE,
    )
    # Assigned on X+5 (late), never called, its 7 days long over.
    vip(
        jinan["city"],
        jinan["manager"],
        activated=x - dt.timedelta(days=5),
        rated=x,
        assigned=x + dt.timedelta(days=5),
    )
    # Rated on day 12 of the journey (after the day-10 deadline: late rating), never assigned, 3 days over.
    vip(jinan["city"], jinan["manager"], activated=x - dt.timedelta(days=12), rated=x)
    # Rated yesterday: within its 3 days, counted in neither the kept nor the broken clocks.
    vip(
        jinan["city"],
        jinan["manager"],
        activated=TODAY - dt.timedelta(days=3),
        rated=TODAY - dt.timedelta(days=1),
    )
    # Assigned X+1, called late (done_late): assigned in time, called not in time.
    vip(
        jinan["city"],
        jinan["manager"],
        activated=x - dt.timedelta(days=5),
        rated=x,
        assigned=x + dt.timedelta(days=1),
        called=ActionStatus.DONE_LATE,
    )
    # Outside the range, and another city: not in 济南's figures.
    vip(jinan["city"], jinan["manager"], activated=x - dt.timedelta(days=80), rated=x - dt.timedelta(days=60))
    vip(qingdao["city"], qingdao["manager"], activated=x - dt.timedelta(days=5), rated=x)

    table = overview(jinan["supervisor"], only="vip")["vip"]
    assert len(table["rows"]) == 1
    row = dict(zip(table["headers"], table["rows"][0], strict=True))
    assert row["地市"] == "济南"
    assert row["评级VIP"] == 5
    assert (row["3天内分配"], row["分配超时"], row["分配计时中"]) == (2, 2, 1)
    assert row["3天分配率"] == 0.5
    assert (row["已分配"], row["7天内回访"], row["回访超时"], row["回访计时中"]) == (3, 1, 2, 0)
    assert row["7天回访率"] == round(1 / 3, 4)
    assert (row["滞后评级"], row["滞后评级占比"]) == (1, 0.2)

    province = builders.staff("prov", role=Role.PROVINCE_ADMIN)
    by_city = {r[0]: r for r in overview(province, only="vip")["vip"]["rows"]}
    assert set(by_city) == {"济南", "青岛"} and by_city["青岛"][1] == 1


def test_sms_counts_by_status_in_the_range_and_the_city(cities):
    jinan, qingdao = cities["jinan"], cities["qingdao"]
    day0 = TODAY - dt.timedelta(days=2)
    mine = builders.customer(city_obj=jinan["city"], activated_on=day0)
    builders.customer(city_obj=qingdao["city"], activated_on=day0)
    cycle.cycle_run(as_of=clock.cycle_instant(day0), dispatch=False)
    messages = list(OutboxMessage.objects.filter(customer=mine).order_by("scheduled_at", "pk"))
    # Tariff, channels, billing and data-usage notices, queued on day 0 to leave one a day (days 0–3).
    assert len(messages) == 4
    assert [clock.local_date(m.scheduled_at) for m in messages] == [day0 + dt.timedelta(days=n) for n in range(4)]
    for message, status in zip(messages, [MessageStatus.SENT, MessageStatus.SENT, MessageStatus.FAILED], strict=False):
        message.status = status
        message.save()

    # Counted on the day each is scheduled for: the fourth leaves tomorrow, outside a range ending today.
    table = overview(jinan["supervisor"], only="sms")["sms"]
    assert table["summary"] == {
        "queued": 0, "sent": 2, "unconfirmed": 0, "failed": 1, "missed": 0, "opted_out": 0, "daily_limit": 0,
        "cancelled": 0, "total": 3, "delivered": 0,
    }
    assert table["rows"] == [
        [day0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0],
        [day0 + dt.timedelta(days=1), 0, 1, 0, 0, 0, 0, 0, 0, 1, 0],
        [day0 + dt.timedelta(days=2), 0, 0, 0, 1, 0, 0, 0, 0, 1, 0],
    ]
    assert (
        overview(jinan["supervisor"], date_from=TODAY, only="sms")["sms"]["rows"]
        == [[TODAY, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]]
    )  # only today's in the range


def test_sms_shows_the_delivered_and_what_the_sending_policy_held_back_by_its_reason(cities):
    jinan = cities["jinan"]
    day0 = TODAY - dt.timedelta(days=3)
    customer = builders.customer(city_obj=jinan["city"], activated_on=day0)
    cycle.cycle_run(as_of=clock.cycle_instant(day0), dispatch=False)
    delivered, unconfirmed, opted_out, capped = OutboxMessage.objects.filter(customer=customer).order_by("pk")
    OutboxMessage.objects.filter(pk=delivered.pk).update(status=MessageStatus.SENT, delivery=Delivery.DELIVERED)
    OutboxMessage.objects.filter(pk=unconfirmed.pk).update(status=MessageStatus.UNCONFIRMED)
    OutboxMessage.objects.filter(pk=opted_out.pk).update(status=MessageStatus.MISSED, last_error=policy.OPTED_OUT)
    OutboxMessage.objects.filter(pk=capped.pk).update(status=MessageStatus.MISSED, last_error=policy.DAILY_LIMIT)

    table = overview(jinan["supervisor"], date_from=day0, only="sms")["sms"]
    summary = table["summary"]
    assert (summary["sent"], summary["delivered"], summary["unconfirmed"]) == (1, 1, 1)
    assert (summary["opted_out"], summary["daily_limit"], summary["missed"], summary["total"]) == (1, 1, 0, 4)
    assert "其中已送达" in table["headers"] and "已退订未发" in table["headers"]


def test_forecast_puts_each_staff_act_on_activation_day_plus_its_window_start(cities):
    jinan, qingdao = cities["jinan"], cities["qingdao"]
    city = jinan["city"]
    # Activated two days ago: the first callback (days 4–10, call centre, not VIPs) opens on day 4 = today + 2.
    for _ in range(3):
        builders.customer(city_obj=city, activated_on=TODAY - dt.timedelta(days=2))
    builders.customer(
        city_obj=city, activated_on=TODAY - dt.timedelta(days=2), vip_tier=builders.vip_tier("gold")
    )
    # Activated 60 days ago: package fit (days 61–75) opens tomorrow, but its call is for nobody until the fit rule
    # exists (the act sends its SMS only): no call-centre work forecast for it.
    builders.customer(city_obj=city, activated_on=TODAY - dt.timedelta(days=60))
    builders.customer(
        city_obj=city, activated_on=TODAY - dt.timedelta(days=60), product="prepaid", package_code="P20"
    )
    # Activated 80 days ago: the VIP survey call (days 85–90, account manager, VIPs only) opens on today + 5.
    builders.customer(
        city_obj=city, activated_on=TODAY - dt.timedelta(days=80), vip_tier=builders.vip_tier("gold")
    )
    builders.customer(city_obj=city, activated_on=TODAY - dt.timedelta(days=80))
    # 青岛's journeys, and a 济南 journey that has ended, are not 济南's coming work.
    builders.customer(city_obj=qingdao["city"], activated_on=TODAY - dt.timedelta(days=2))
    gone = builders.customer(city_obj=city, activated_on=TODAY - dt.timedelta(days=2))
    Journey.objects.filter(customer=gone).update(status="exited")

    table = overview(jinan["supervisor"], only="forecast")["forecast"]
    rows = {r[0]: r[3 : 3 + FORECAST_DAYS] for r in table["rows"]}
    call_centre = builders.unit(city, UnitKind.CALL_CENTRE).name
    managers = builders.unit(city, UnitKind.ACCOUNT_MANAGER_TEAM).name
    assert set(rows) == {call_centre, managers}
    expected_cc = [0] * FORECAST_DAYS
    expected_cc[1] = 3  # today + 2: three ordinary first callbacks (the VIP gets the VIP callback instead)
    assert rows[call_centre] == expected_cc
    expected_am = [0] * FORECAST_DAYS
    expected_am[4] = 1  # today + 5 = day 85 of the VIP activated 80 days ago
    assert rows[managers] == expected_am
    assert table["days"][0] == TODAY + dt.timedelta(days=1)
    kinds = {s["name"]: s["data"] for s in table["chart"]["series"]}
    assert kinds["客服中心(10010)"] == expected_cc


def test_query_count_does_not_grow_with_the_rows(cities):
    city = cities["jinan"]["city"]

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            overview(cities["jinan"]["supervisor"])
        return len(queries)

    for n in range(3):
        vip(
            city,
            cities["jinan"]["manager"],
            activated=TODAY - dt.timedelta(days=9 + n),
            rated=TODAY - dt.timedelta(days=5),
        )
        builders.customer(city_obj=city, activated_on=TODAY - dt.timedelta(days=n))
    count_queries()  # the parsed playbook is cached after its first read
    few = count_queries()
    for n in range(40):
        vip(
            city,
            cities["jinan"]["manager"],
            activated=TODAY - dt.timedelta(days=9 + n),
            rated=TODAY - dt.timedelta(days=n % 20),
        )
        builders.customer(city_obj=city, activated_on=TODAY - dt.timedelta(days=n % 85))
    assert count_queries() == few


def test_anyone_but_a_supervisor_or_the_province_gets_nothing(cities):
    clerk = builders.staff("clerk", role=Role.STORE_CLERK, city_obj=cities["jinan"]["city"])
    assert overview(clerk) == {}


# --- package fit and offers ---------------------------------------------------------------------------------


def judged(city, verdict: str, *, saving_fen: int = 0, on: dt.date = TODAY - dt.timedelta(days=3)):
    """A customer of `city` with the package-fit verdict the cycle made on `on`."""
    from onboard90.usage.models import PackageFitVerdict

    customer = builders.customer(city_obj=city, package_code="A66", activated_on=on - dt.timedelta(days=62))
    PackageFitVerdict.objects.create(
        customer=customer, as_of=on, months="2012-03,2012-04", package="A66",
        recommended="A46" if verdict == "does_not_fit" else "A66", current_cost=6600, saving=saving_fen,
        verdict=verdict, explanation="",
    )  # fmt: skip
    return customer


def offered(city, *, accepted: bool = False, taken: bool = False, on: dt.date = TODAY - dt.timedelta(days=2)):
    """A customer of `city` to whom the cycle's SMS recommended a data pack on `on`."""
    from onboard90.usage.models import Offer, OfferChoice

    customer = builders.customer(city_obj=city, package_code="A66", activated_on=on - dt.timedelta(days=30))
    at = clock.at_local(on, 10)
    OfferChoice.objects.create(
        customer=customer, offer=Offer.objects.order_by("pk").first(), month="2012-05", reason="", as_of=on,
        made_at=at, accepted_at=at + dt.timedelta(hours=1) if accepted or taken else None,
        taken_at=at + dt.timedelta(days=1) if taken else None,
    )  # fmt: skip
    return customer


def test_package_fit_and_offer_take_up_per_city_within_the_supervisors_city(cities):
    jinan, qingdao = cities["jinan"]["city"], cities["qingdao"]["city"]
    judged(jinan, "fits")
    judged(jinan, "does_not_fit", saving_fen=1000)
    judged(jinan, "does_not_fit", saving_fen=2001)  # average 15.005 yuan: 15.01 (half up, in fen)
    judged(jinan, "does_not_fit", saving_fen=500, on=TODAY - dt.timedelta(days=40))  # before the range
    judged(qingdao, "fits")
    offered(jinan, taken=True)
    offered(jinan, accepted=True)
    offered(jinan)
    offered(jinan)
    offered(qingdao, taken=True)

    province = builders.staff("prov_fit", role=Role.PROVINCE_ADMIN)
    table = overview(province, only="usage")["usage"]
    assert [row[0] for row in table["rows"]] == ["济南", "青岛"]
    # 地市, judged, fits, does not fit, share, average saving, offers made, accepted, taken, take-up
    assert table["rows"][0] == ["济南", 3, 1, 2, round(2 / 3, 4), "15.01", 4, 2, 1, 0.25]
    assert table["rows"][1] == ["青岛", 1, 1, 0, 0.0, None, 1, 1, 1, 1.0]
    assert table["total"] == ["合计", 4, 2, 2, 0.5, "15.01", 5, 3, 2, 0.4]

    mine = overview(cities["qingdao"]["supervisor"], only="usage")["usage"]
    assert [row[0] for row in mine["rows"]] == ["青岛"] and mine["total"] is None


def test_the_usage_table_costs_the_same_queries_for_one_city_and_for_many_customers(cities):
    jinan, qingdao = cities["jinan"]["city"], cities["qingdao"]["city"]
    province = builders.staff("prov_q", role=Role.PROVINCE_ADMIN)
    from onboard90.reporting.operations import usage_section

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            usage_section(scope=scope_of(province), date_from=TODAY - dt.timedelta(days=30), date_to=TODAY)
        return len(captured.captured_queries)

    judged(jinan, "fits")
    offered(jinan)
    few = queries()
    for _ in range(5):
        judged(qingdao, "does_not_fit", saving_fen=700)
        offered(qingdao, taken=True)
    assert queries() == few == 3
