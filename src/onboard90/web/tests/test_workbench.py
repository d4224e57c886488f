"""工作台: each person's open work in three lists, inside their scope, filtered and searched without a 500,
and a cost that does not grow with the rows shown."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.journeys import selectors
from onboard90.journeys.enums import ActionStatus
from onboard90.journeys.models import JourneyAction, Task
from onboard90.org.enums import Role, UnitKind
from onboard90.web.views.workbench import lateness, local_time, parse_cursor, parse_number

pytestmark = pytest.mark.django_db

DAY0 = dt.date(2012, 3, 1)
NOW = clock.at_local(DAY0 + dt.timedelta(days=1), 10)  # day 1, 10:00: the store acts are due end of day 3


# --- the plain rules -------------------------------------------------------------------------------------


def test_a_row_says_how_late_or_how_long_is_left_in_days_or_hours():
    now = clock.at_local(DAY0, 12)
    assert lateness(now - dt.timedelta(days=2, hours=3), now) == ("超时 2 天", True)
    assert lateness(now - dt.timedelta(minutes=20), now) == ("超时 1 小时", True)
    assert lateness(now + dt.timedelta(hours=4, minutes=30), now) == ("还剩 5 小时", False)
    assert lateness(now + dt.timedelta(days=3, hours=1), now) == ("还剩 3 天", False)


def test_times_read_in_shanghai_and_numbers_are_11_digits_or_the_last_4():
    instant = dt.datetime(2012, 12, 5, 6, 30, tzinfo=dt.UTC)
    with translation.override("zh-hans"):
        assert local_time(instant) == "12月05日 14:30"
        assert local_time(instant, year=True) == "2012-12-05 14:30"
    with translation.override("en"):
        assert local_time(instant) == "05 Dec 14:30"
        assert local_time(instant, year=True) == "2012-12-05 14:30"
    assert local_time(dt.datetime(2012, 3, 4, 16, 30, tzinfo=dt.UTC)) == "03月05日 00:30"  # the next day there
    assert parse_number("186 1234 5678") == "18612345678"
    assert parse_number("5678") == "5678"
    assert parse_number("12345") is None and parse_number("abcd") is None
    assert parse_cursor("garbage") is None and parse_cursor("1.x") is None


# --- the page ------------------------------------------------------------------------------------------


@pytest.fixture
def province():
    """济南 and 青岛, each with a clerk; 济南's agent, supervisor and account manager; the default playbook."""
    jinan, qingdao = builders.city("jinan"), builders.city("qingdao")
    builders.package("A66")
    builders.package("P20", product="prepaid", family="prepaid", monthly_fee=20)
    builders.vip_tier("gold")
    builders.playbook_version()
    builders.scratch_database()
    return {
        "jinan": jinan, "qingdao": qingdao,
        "clerk": builders.staff("clerk", role=Role.STORE_CLERK, city_obj=jinan),
        "clerk_qd": builders.staff("clerk_qd", role=Role.STORE_CLERK, city_obj=qingdao),
        "agent": builders.staff("agent", role=Role.CALL_CENTRE_AGENT, city_obj=jinan),
        "manager": builders.staff("manager", role=Role.ACCOUNT_MANAGER, city_obj=jinan),
        "supervisor": builders.staff("boss", role=Role.SUPERVISOR, city_obj=jinan),
    }


def open_tasks(city, n: int, *, code: str = "tariff_notice", kind: str = UnitKind.STORE, due: dt.datetime,
               **customer_fields) -> list[Task]:
    """n customers of `city`, each with one running task of `code` owned by the city's `kind` unit."""
    owner = builders.unit(city, kind)
    tasks = []
    for _ in range(n):
        customer = builders.customer(city_obj=city, activated_on=DAY0, **customer_fields)
        action = JourneyAction.objects.create(
            journey=customer.journey, customer=customer, action_code=code, stage=1, status=ActionStatus.OPEN, window_start=DAY0,
            window_end=clock.local_date(due), due_at=due, opened_at=clock.at_local(DAY0, 6),
        )
        tasks.append(Task(action=action, journey=customer.journey, customer=customer, owner_unit=owner, status=ActionStatus.OPEN,
                          due_at=due, created_at=clock.at_local(DAY0, 6), max_attempts=3))
    return Task.objects.bulk_create(tasks)


def get(client, user, url="/", **params):
    client.force_login(user)
    with clock.simulated(NOW):
        return client.get(url, params)


def test_the_clerk_sees_the_store_work_in_three_lists_with_counts(client, province):
    open_tasks(province["jinan"], 2, due=clock.at_local(DAY0 + dt.timedelta(days=1), 23, 59))  # today
    open_tasks(province["jinan"], 3, due=clock.at_local(DAY0, 23, 59))  # yesterday: overdue
    open_tasks(province["jinan"], 1, due=clock.at_local(DAY0 + dt.timedelta(days=3), 23, 59))  # coming up
    open_tasks(province["jinan"], 1, due=clock.at_local(DAY0 + dt.timedelta(days=20), 23, 59))  # later
    open_tasks(province["qingdao"], 4, due=clock.at_local(DAY0 + dt.timedelta(days=1), 23, 59))  # not theirs

    page = get(client, province["clerk"], list="today")

    assert page.status_code == 200
    assert [t["count"] for t in page.context["tabs"]] == [3, 2, 1]  # overdue, today, coming up
    assert len(page.context["rows"]) == 2
    body = page.content.decode()
    assert "套餐资费标准告知" in body and "还剩 14 小时" in body and "济南营业厅" in body
    customer = page.context["rows"][0]["task"].journey.customer
    assert customer.masked_msisdn in body and customer.msisdn not in body  # masked; the link goes by task


def test_a_clerk_counts_the_store_work_and_what_is_assigned_to_them_elsewhere_each_once(client, province):
    today = clock.at_local(DAY0 + dt.timedelta(days=1), 23, 59)
    own = open_tasks(province["jinan"], 2, due=today)
    elsewhere = open_tasks(province["jinan"], 1, kind=UnitKind.CALL_CENTRE, due=today)
    Task.objects.filter(pk__in=[own[0].pk, elsewhere[0].pk]).update(assignee=province["clerk"])

    page = get(client, province["clerk"], list="today")

    assert [t["count"] for t in page.context["tabs"]] == [0, 3, 0]
    assert len(page.context["rows"]) == 3


def test_past_ten_thousand_a_tab_says_so_rather_than_count_every_task(client, province, monkeypatch):
    monkeypatch.setattr(selectors, "WORKBENCH_COUNTED", 2)
    open_tasks(province["jinan"], 3, due=clock.at_local(DAY0 + dt.timedelta(days=1), 23, 59))

    page = get(client, province["supervisor"], list="today")

    assert [t["count_text"] for t in page.context["tabs"]] == ["0", "2+", "0"]
    assert "共 2+ 条" in page.content.decode()
    assert len(page.context["rows"]) == 3  # the list itself is not bounded, only its count


def test_with_no_list_chosen_the_first_list_that_has_work_opens(client, province):
    open_tasks(province["jinan"], 1, due=clock.at_local(DAY0 + dt.timedelta(days=3), 23, 59))
    assert get(client, province["clerk"]).context["which"] == "upcoming"


def test_agents_see_their_citys_call_centre_queue_only(client, province):
    due = clock.at_local(DAY0 + dt.timedelta(days=1), 23, 59)
    calls = open_tasks(province["jinan"], 2, code="first_callback", kind=UnitKind.CALL_CENTRE, due=due)
    open_tasks(province["jinan"], 3, due=due)  # the store's
    open_tasks(province["qingdao"], 2, code="first_callback", kind=UnitKind.CALL_CENTRE, due=due)  # 青岛's

    page = get(client, province["agent"], list="today")

    assert {r["task"].pk for r in page.context["rows"]} == {t.pk for t in calls}
    assert "新客户首次回访" in page.content.decode()


def test_the_account_manager_sees_only_their_own_vip_customers(client, province):
    due = clock.at_local(DAY0 + dt.timedelta(days=1), 23, 59)
    tier = builders.vip_tier("gold")
    mine = open_tasks(province["jinan"], 2, code="vip_first_callback", kind=UnitKind.ACCOUNT_MANAGER_TEAM, due=due,
                      vip_tier=tier, account_manager=province["manager"])
    other = builders.staff("other_manager", role=Role.ACCOUNT_MANAGER, city_obj=province["jinan"])
    open_tasks(province["jinan"], 2, code="vip_first_callback", kind=UnitKind.ACCOUNT_MANAGER_TEAM, due=due,
               vip_tier=tier, account_manager=other)

    page = get(client, province["manager"], list="today")

    assert {r["task"].pk for r in page.context["rows"]} == {t.pk for t in mine}


def test_search_by_number_stays_in_scope(client, province):
    due = clock.at_local(DAY0 + dt.timedelta(days=1), 23, 59)
    jinan = open_tasks(province["jinan"], 1, due=due)[0]
    qingdao = open_tasks(province["qingdao"], 1, due=due)[0]
    qd_number = qingdao.journey.customer.msisdn

    found = get(client, province["clerk_qd"], q=qd_number, list="today")
    assert [r["task"].pk for r in found.context["rows"]] == [qingdao.pk]
    by_last4 = get(client, province["clerk_qd"], q=qd_number[-4:], list="today")
    assert [r["task"].pk for r in by_last4.context["rows"]] == [qingdao.pk]

    outside = get(client, province["clerk_qd"], q=jinan.journey.customer.msisdn, list="today")
    unknown = get(client, province["clerk_qd"], q="18600000000", list="today")
    assert outside.context["rows"] == [] == unknown.context["rows"]
    assert [t["count"] for t in outside.context["tabs"]] == [t["count"] for t in unknown.context["tabs"]]
    assert "没有符合条件的任务" in outside.content.decode()


def test_the_supervisor_sees_the_city_and_filters_by_unit_segment_action_and_stage(client, province):
    due = clock.at_local(DAY0 + dt.timedelta(days=1), 23, 59)
    store = open_tasks(province["jinan"], 2, due=due)
    calls = open_tasks(province["jinan"], 1, code="first_callback", kind=UnitKind.CALL_CENTRE, due=due)
    prepaid = open_tasks(province["jinan"], 1, due=due, product="prepaid", package_code="P20")
    open_tasks(province["qingdao"], 1, due=due)
    boss = province["supervisor"]

    def shown(**params):
        return {r["task"].pk for r in get(client, boss, list="today", **params).context["rows"]}

    assert shown() == {t.pk for t in store + calls + prepaid}
    assert shown(unit=str(builders.unit(province["jinan"], UnitKind.CALL_CENTRE).pk)) == {calls[0].pk}
    assert shown(segment="prepaid") == {prepaid[0].pk}
    assert shown(action="first_callback") == {calls[0].pk}
    assert shown(stage="2") == set()  # every task here was opened as a stage-1 act
    qd_unit = builders.unit(province["qingdao"], UnitKind.STORE)
    page = get(client, boss, list="today", unit=str(qd_unit.pk))
    assert "不在您的管辖范围内" in page.content.decode() and len(page.context["rows"]) == 4


@pytest.mark.parametrize("params", [
    {"list": "nonsense"}, {"action": "no_such_act"}, {"stage": "x"}, {"stage": "99"}, {"status": "done"},
    {"segment": "gold"}, {"unit": "abc"}, {"q": "12345"}, {"q": "<script>"}, {"after": "not-a-cursor"},
    {"after": "99999999999999999999.1"}, {"n": "-5"}, {"n": "many"},
])
def test_garbage_filters_give_a_message_or_are_ignored_never_a_500(client, province, params):
    open_tasks(province["jinan"], 1, due=clock.at_local(DAY0 + dt.timedelta(days=1), 23, 59))
    page = get(client, province["clerk"], **params)
    assert page.status_code == 200
    assert len(page.context["rows"]) == 1 or page.context["problems"]


def test_paging_by_key_walks_the_list_in_due_order_without_repeats(client, province, monkeypatch):
    monkeypatch.setattr(selectors, "WORKBENCH_PAGE", 3)
    base = clock.at_local(DAY0 + dt.timedelta(days=1), 12)
    tasks = []
    for minutes in (50, 10, 40, 20, 30, 0, 0):
        tasks += open_tasks(province["jinan"], 1, due=base + dt.timedelta(minutes=minutes))
    seen, url = [], "/?list=today"
    while url:
        client.force_login(province["clerk"])
        with clock.simulated(NOW):
            page = client.get(url)
        seen += [r["task"] for r in page.context["rows"]]
        url = page.context["next_url"]
    assert [t.pk for t in seen] == [t.pk for t in sorted(tasks, key=lambda t: (t.due_at, t.pk))]


def test_htmx_gets_the_results_only(client, province):
    open_tasks(province["jinan"], 1, due=clock.at_local(DAY0 + dt.timedelta(days=1), 23, 59))
    client.force_login(province["clerk"])
    with clock.simulated(NOW):
        part = client.get("/", {"list": "today"}, HTTP_HX_REQUEST="true")
    body = part.content.decode()
    assert body.lstrip().startswith("<div id=\"wb-results\">") and "<html" not in body
    assert "HX-Request" in part["Vary"]


def test_a_row_opens_its_customer_page_through_the_task_in_scope_only(client, province):
    due = clock.at_local(DAY0 + dt.timedelta(days=1), 23, 59)
    mine = open_tasks(province["jinan"], 1, due=due)[0]
    theirs = open_tasks(province["qingdao"], 1, due=due)[0]
    client.force_login(province["clerk"])
    opened = client.get(f"/tasks/{mine.pk}/")
    assert opened.status_code == 302 and opened["Location"].startswith(f"/customers/{mine.journey.customer.msisdn}/")
    assert client.get(f"/tasks/{theirs.pk}/").status_code == 404
    assert client.get("/tasks/abc/").status_code == 404


@pytest.mark.parametrize("user", ["clerk", "supervisor"])
def test_the_workbench_costs_the_same_queries_with_10_and_200_rows(client, province, monkeypatch, user):
    monkeypatch.setattr(selectors, "WORKBENCH_PAGE", 200)
    due = clock.at_local(DAY0 + dt.timedelta(days=1), 23, 59)

    def queries() -> tuple[int, int]:
        client.force_login(province[user])
        with clock.simulated(NOW):
            client.get("/", {"list": "today"})  # the playbook's parse is cached per process: measure warm
            with CaptureQueriesContext(connection) as captured:
                page = client.get("/", {"list": "today"})
        return len(captured), len(page.context["rows"])

    open_tasks(province["jinan"], 5, due=due)
    open_tasks(province["jinan"], 5, due=due, vip_tier=builders.vip_tier("gold"))
    ten, rows = queries()
    assert rows == 10
    open_tasks(province["jinan"], 95, due=due, number_changed=True)
    open_tasks(province["jinan"], 95, code="first_callback", kind=UnitKind.STORE, due=due)
    two_hundred, rows = queries()
    assert rows == 200
    assert ten == two_hundred
