"""客户页: the full number for those whose scope reaches the customer (404 for everyone else, the same as an
unknown number), each view audited; tasks completed with their checklist through the CLI's service, the
activation-day store acts of one visit recorded together, a supervisor's reassignment — all from the
browser, with refusals as messages and a cost that does not grow with the acts shown."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.core.models import AuditEntry
from onboard90.journeys import cycle, services
from onboard90.journeys.enums import ActionStatus
from onboard90.journeys.models import JourneyAction, Task, TaskAttempt
from onboard90.messaging.gateways import MemoryGateway
from onboard90.org.enums import Role, UnitKind
from onboard90.web.views.customers import amount

pytestmark = pytest.mark.django_db

DAY0 = dt.date(2012, 3, 1)
NOW = clock.at_local(DAY0, 15)  # the activation day, in the afternoon
STORE_ACTS = {"tariff_notice", "contract_terms_notice", "club_recommendation", "internet_coaching",
              "number_change_coaching"}


def activated(city, on_day: int = 0, **fields):
    """A customer activated on DAY0 with the daily cycle run up to `on_day` (its acts opened, SMS queued)."""
    customer = builders.customer(city_obj=city, activated_on=DAY0, **fields)
    for n in range(on_day + 1):
        cycle.cycle_run(as_of=clock.cycle_instant(DAY0 + dt.timedelta(days=n)), gateway=MemoryGateway(),
                           dispatch=False)
    return customer


def task(customer, code: str) -> Task:
    return Task.objects.get(journey__customer=customer, action__action_code=code)


def as_user(client, user, method: str, url: str, data=None, at: dt.datetime = NOW, **extra):
    client.force_login(user)
    with clock.simulated(at):
        return getattr(client, method)(url, data or {}, **extra)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- who sees the page ---------------------------------------------------------------------------------


def test_the_clerk_sees_the_full_number_and_the_view_is_audited_from_the_web(client, province):
    customer = activated(province["jinan"], number_changed=True, previous_msisdn="13000000001")

    page = as_user(client, province["clerk"], "get", f"/customers/{customer.msisdn}/")

    assert page.status_code == 200
    body = page.content.decode()
    assert customer.msisdn in body and "套餐资费标准告知" in body and "入网辅导时刻" in body
    assert "沃3G基本套餐A66" in body and "0.20 元/分钟" in body and "全月" in body and "原号码 13000000001" in body
    assert "status status-open" in body and "status status-pending" in body  # opened acts and ones to come
    row = AuditEntry.objects.get(verb="customer.viewed")
    assert (row.actor, row.object_id, row.channel) == (province["clerk"], str(customer.pk), "web")


def test_a_customer_outside_the_scope_is_the_same_404_as_an_unknown_number(client, province):
    customer = activated(province["jinan"])
    clerk_qd = province["clerk_qd"]
    assert as_user(client, clerk_qd, "get", f"/customers/{customer.msisdn}/").status_code == 404
    assert as_user(client, clerk_qd, "get", "/customers/18600000000/").status_code == 404
    assert as_user(client, clerk_qd, "get", "/customers/not-a-number/").status_code == 404
    assert not AuditEntry.objects.filter(verb="customer.viewed").exists()
    search = as_user(client, clerk_qd, "get", "/", {"q": customer.msisdn})
    assert search.status_code == 200 and search.context["rows"] == []


def test_an_account_manager_reaches_only_their_own_vip_customers(client, province):
    tier = builders.vip_tier("gold")
    mine = builders.customer(city_obj=province["jinan"], activated_on=DAY0, vip_tier=tier,
                             account_manager=province["manager"])
    other = builders.staff("other_manager", role=Role.ACCOUNT_MANAGER, city_obj=province["jinan"])
    theirs = builders.customer(city_obj=province["jinan"], activated_on=DAY0, vip_tier=tier, account_manager=other)
    assert as_user(client, province["manager"], "get", f"/customers/{mine.msisdn}/").status_code == 200
    assert as_user(client, province["manager"], "get", f"/customers/{theirs.msisdn}/").status_code == 404


# --- completing tasks -----------------------------------------------------------------------------------


def test_a_call_unanswered_keeps_the_task_open_then_reached_closes_it_with_its_checklist(client, province):
    customer = activated(province["jinan"], on_day=4)
    call = task(customer, "first_callback")
    day4 = clock.at_local(DAY0 + dt.timedelta(days=4), 11)
    url = f"/tasks/{call.pk}/complete/"

    first = as_user(client, province["agent"], "post", url, {"outcome": "no_answer"}, at=day4, follow=True)
    call.refresh_from_db()
    assert call.status == ActionStatus.OPEN and call.attempts == 1
    assert any("仍待完成" in m for m in messages_of(first))

    as_user(client, province["agent"], "post", url, {
        "outcome": "reached", "has_checklist": "1", "check": ["info_verified", "usage_asked"], "note": "客户满意",
    }, at=day4 + dt.timedelta(hours=2))
    call.refresh_from_db()
    assert call.status == ActionStatus.DONE and call.attempts == 2 and call.outcome == "reached"
    assert call.checklist == {"info_verified": True, "usage_asked": True, "questions_answered": False,
                              "usage_coached": False}
    assert "客户满意" in call.note
    audits = AuditEntry.objects.filter(verb="task.complete", object_id=str(call.pk))
    assert audits.count() == 2 and set(audits.values_list("channel", flat=True)) == {"web"}


@pytest.mark.parametrize("data, said", [
    ({}, "请选择结果"), ({"outcome": "maybe"}, "请选择结果"),
    ({"outcome": "reached", "has_checklist": "1", "check": ["forged_item"]}, "未知核对项"),
])
def test_bad_completions_are_messages_on_the_page_and_write_nothing(client, province, data, said):
    customer = activated(province["jinan"])
    tariff = task(customer, "tariff_notice")
    page = as_user(client, province["clerk"], "post", f"/tasks/{tariff.pk}/complete/", data, follow=True)
    assert page.status_code == 200 and any(said in m for m in messages_of(page))
    tariff.refresh_from_db()
    assert tariff.status == ActionStatus.OPEN and not TaskAttempt.objects.exists()


def test_tasks_outside_the_scope_or_not_numbers_are_404(client, province):
    customer = activated(province["jinan"])
    tariff = task(customer, "tariff_notice")
    assert as_user(client, province["clerk_qd"], "post", f"/tasks/{tariff.pk}/complete/",
                   {"outcome": "reached"}).status_code == 404
    assert as_user(client, province["clerk"], "post", "/tasks/abc/complete/", {"outcome": "reached"}).status_code == 404
    assert as_user(client, province["clerk"], "get", f"/tasks/{tariff.pk}/complete/").status_code == 405
    tariff.refresh_from_db()
    assert tariff.status == ActionStatus.OPEN


def test_the_activation_day_store_acts_are_one_form_and_each_is_recorded_on_its_own(client, province):
    customer = activated(province["jinan"], number_changed=True)
    page = as_user(client, province["clerk"], "get", f"/customers/{customer.msisdn}/")
    visit = {item["code"] for item in page.context["visit"]}
    assert visit == STORE_ACTS

    ids = [task(customer, code).pk for code in sorted(STORE_ACTS)]
    data = {"task": ids, "outcome": "reached", "note": "一次接待",
            f"check-{task(customer, 'tariff_notice').pk}": ["asked_understanding", "guide_handed_over"]}
    done = as_user(client, province["clerk"], "post", f"/customers/{customer.msisdn}/visit/", data, follow=True)

    assert any("已登记 5 项" in m for m in messages_of(done))
    closed = Task.objects.filter(pk__in=ids)
    assert {t.status for t in closed} == {ActionStatus.DONE}
    assert task(customer, "tariff_notice").checklist == {
        "asked_understanding": True, "package_explained": False, "rates_explained": False, "guide_handed_over": True,
    }
    assert TaskAttempt.objects.filter(task__in=ids).count() == 5
    assert AuditEntry.objects.filter(verb="task.complete", channel="web").count() == 5


def test_a_visit_with_one_act_refused_records_none_and_names_that_act(client, province):
    customer = activated(province["jinan"])
    club = task(customer, "club_recommendation")
    services.task_complete(task=club, outcome="reached", completed_by=province["clerk"], at=NOW, now=NOW)
    ids = [task(customer, code).pk for code in ("tariff_notice", "club_recommendation", "internet_coaching")]

    page = as_user(client, province["clerk"], "post", f"/customers/{customer.msisdn}/visit/",
                   {"task": ids, "outcome": "reached"}, follow=True)

    said = " ".join(messages_of(page))
    assert "所有动作均未保存" in said and "推荐3G客户俱乐部" in said
    assert task(customer, "tariff_notice").status == ActionStatus.OPEN
    assert task(customer, "internet_coaching").status == ActionStatus.OPEN
    assert TaskAttempt.objects.count() == 1  # the club's own, from before


def test_a_visit_naming_a_task_outside_the_scope_is_404(client, province):
    customer = activated(province["jinan"])
    other = activated(province["qingdao"])
    ids = [task(customer, "tariff_notice").pk, task(other, "tariff_notice").pk]
    response = as_user(client, province["clerk"], "post", f"/customers/{customer.msisdn}/visit/",
                       {"task": ids, "outcome": "reached"})
    assert response.status_code == 404
    bad = as_user(client, province["clerk"], "post", f"/customers/{customer.msisdn}/visit/",
                  {"task": ["x"], "outcome": "reached"}, follow=True)
    assert bad.status_code == 200 and any("没有可登记" in m for m in messages_of(bad))


# --- reassignment ---------------------------------------------------------------------------------------


def test_the_supervisor_reassigns_within_the_city_and_it_is_audited(client, province):
    customer = activated(province["jinan"])
    tariff = task(customer, "tariff_notice")
    club_staff = builders.staff("club1", role=Role.CLUB_STAFF, city_obj=province["jinan"])
    back = "/escalations/?page=2"

    response = as_user(client, province["supervisor"], "post", f"/tasks/{tariff.pk}/reassign/",
                       {"to_user": club_staff.pk, "reason": "营业员休假", "next": back})

    assert response.status_code == 302 and response["Location"] == back
    tariff.refresh_from_db()
    assert tariff.assignee == club_staff and tariff.owner_unit == builders.unit(province["jinan"], UnitKind.CLUB)
    row = AuditEntry.objects.get(verb="task.reassign")
    assert row.channel == "web" and row.before == {"owner_unit": "jinan-store-1", "assignee": None}
    assert row.after["owner_unit"] == "jinan-club" and row.after["assignee"] == "club1"

    cc = builders.unit(province["jinan"], UnitKind.CALL_CENTRE)
    as_user(client, province["supervisor"], "post", f"/tasks/{tariff.pk}/reassign/", {"to_unit": cc.pk})
    tariff.refresh_from_db()
    assert tariff.owner_unit == cc and tariff.assignee is None


def test_reassignment_refuses_other_cities_closed_tasks_and_non_supervisors(client, province):
    customer = activated(province["jinan"])
    tariff, club = task(customer, "tariff_notice"), task(customer, "club_recommendation")
    qd_store = builders.unit(province["qingdao"], UnitKind.STORE)

    def post(user, t, data):
        page = as_user(client, user, "post", f"/tasks/{t.pk}/reassign/", data, follow=True)
        return page.status_code, " ".join(messages_of(page))

    assert "不属于本地市" in post(province["supervisor"], tariff, {"to_unit": qd_store.pk})[1]
    assert "不属于本地市" in post(province["supervisor"], tariff, {"to_user": province["clerk_qd"].pk})[1]
    assert "只有本地市主管" in post(province["clerk"], tariff, {"to_unit": qd_store.pk})[1]
    services.task_complete(task=club, outcome="reached", completed_by=province["clerk"], at=NOW, now=NOW)
    assert "不能改派" in post(province["supervisor"], club, {"to_unit": qd_store.pk})[1]
    assert "无效" in post(province["supervisor"], tariff, {"to_unit": "abc"})[1]
    assert post(province["boss_qd"], tariff, {"to_unit": qd_store.pk})[0] == 404  # not in their scope at all
    assert "http://evil.example" not in as_user(
        client, province["supervisor"], "post", f"/tasks/{tariff.pk}/reassign/",
        {"to_unit": builders.unit(province["jinan"], UnitKind.CALL_CENTRE).pk, "next": "http://evil.example/"},
    )["Location"]
    tariff.refresh_from_db()
    assert tariff.owner_unit.kind == UnitKind.CALL_CENTRE
    assert AuditEntry.objects.filter(verb="task.reassign").count() == 1


def test_the_service_refuses_a_reassignment_to_nowhere_and_to_the_same_place(province):
    customer = activated(province["jinan"])
    tariff = task(customer, "tariff_notice")
    with pytest.raises(services.TaskRefused, match="choose a unit"):
        services.task_reassign(task=tariff, reassigned_by=province["supervisor"])
    with pytest.raises(services.TaskRefused, match="already there"):
        services.task_reassign(task=tariff, reassigned_by=province["supervisor"], to_unit=tariff.owner_unit)


# --- cost -----------------------------------------------------------------------------------------------


def many_acts(customer, n: int) -> None:
    """n more occurrences of an opened act for one customer, each a call-centre task with an attempt and an
    SMS: rows enough to show a per-row query if the page made one."""
    from onboard90.messaging.models import OutboxMessage

    journey = customer.journey
    cc = builders.unit(customer.city, UnitKind.CALL_CENTRE)
    start = JourneyAction.objects.filter(journey=journey).count() + 1
    due = clock.at_local(DAY0 + dt.timedelta(days=10), 23, 59)
    actions = JourneyAction.objects.bulk_create([
        JourneyAction(journey=journey, customer_id=journey.customer_id, action_code="tariff_notice", occurrence=start + i, stage=1,
                      status=ActionStatus.OPEN, window_start=DAY0, window_end=DAY0 + dt.timedelta(days=10),
                      due_at=due, opened_at=clock.at_local(DAY0, 6))
        for i in range(n)
    ])
    actions = list(JourneyAction.objects.filter(journey=journey, occurrence__gte=start))
    tasks = Task.objects.bulk_create([
        Task(action=a, journey=journey, customer_id=journey.customer_id, owner_unit=cc, status=ActionStatus.OPEN, due_at=due,
             created_at=clock.at_local(DAY0, 6), max_attempts=3, attempts=1)
        for a in actions
    ])
    tasks = list(Task.objects.filter(action__in=actions))
    TaskAttempt.objects.bulk_create([TaskAttempt(task=t, at=NOW, outcome="no_answer") for t in tasks])
    OutboxMessage.objects.bulk_create([
        OutboxMessage(action=a, customer=customer, msisdn=customer.msisdn, message_class="service", text="您好",
                      scheduled_at=NOW, not_after=due, created_at=NOW)
        for a in actions
    ])


@pytest.mark.parametrize("user", ["agent", "supervisor"])
def test_the_customer_page_costs_the_same_queries_with_10_and_200_acts(client, province, user):
    customer = activated(province["jinan"])

    def queries() -> tuple[int, int]:
        client.force_login(province[user])
        with clock.simulated(NOW):
            client.get(f"/customers/{customer.msisdn}/")  # the playbook's parse is cached per process
            with CaptureQueriesContext(connection) as captured:
                page = client.get(f"/customers/{customer.msisdn}/")
        assert page.status_code == 200
        return len(captured), sum(len(s["acts"]) for s in page.context["stages"])

    many_acts(customer, 10)
    ten, shown_ten = queries()
    many_acts(customer, 190)
    two_hundred, shown = queries()
    assert shown - shown_ten == 190
    assert ten == two_hundred


def test_fees_and_rates_read_as_staff_say_them():
    from decimal import Decimal

    assert amount(Decimal("66.00")) == "66.00"
    assert amount(Decimal("0.2000")) == "0.20"
    assert amount(Decimal("0.0005")) == "0.0005"
    assert amount(Decimal("100")) == "100.00"
