"""领取 from the browser: the club's staff see, on their workbench, the open coaching of their city's stores
that the plan lets the club do (营业厅或俱乐部), take one when the customer walks into the club, and find it
on the club's worklist; everything else of the stores and of other cities stays a 404 for them, as before,
and the page's cost does not grow with the rows it shows."""

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
from onboard90.journeys.models import JourneyAction, Task
from onboard90.messaging.gateways import MemoryGateway
from onboard90.org.enums import Role, UnitKind
from onboard90.web.views import workbench

pytestmark = pytest.mark.django_db

DAY0 = dt.date(2012, 3, 1)
NOW = clock.at_local(DAY0, 15)  # the activation day, in the afternoon


@pytest.fixture
def province():
    """济南 and 青岛, each with a clerk and a club member; 济南's agent and supervisor; the default playbook."""
    jinan, qingdao = builders.city("jinan"), builders.city("qingdao")
    builders.package("A66")
    builders.playbook_version()
    builders.scratch_database()
    return {
        "jinan": jinan, "qingdao": qingdao,
        "club": builders.staff("club", role=Role.CLUB_STAFF, city_obj=jinan),
        "club_qd": builders.staff("club_qd", role=Role.CLUB_STAFF, city_obj=qingdao),
        "clerk": builders.staff("clerk", role=Role.STORE_CLERK, city_obj=jinan),
        "clerk_qd": builders.staff("clerk_qd", role=Role.STORE_CLERK, city_obj=qingdao),
        "agent": builders.staff("agent", role=Role.CALL_CENTRE_AGENT, city_obj=jinan),
        "supervisor": builders.staff("boss", role=Role.SUPERVISOR, city_obj=jinan),
    }


@pytest.fixture
def walk_ins(province):
    """A 济南 and a 青岛 customer who changed number, activated on DAY0: their stores' acts are open."""
    jinan = builders.customer(city_obj=province["jinan"], activated_on=DAY0, number_changed=True)
    qingdao = builders.customer(city_obj=province["qingdao"], activated_on=DAY0, number_changed=True)
    cycle.cycle_run(as_of=clock.cycle_instant(DAY0), gateway=MemoryGateway(), dispatch=False)
    return {"jinan": jinan, "qingdao": qingdao}


def task(customer, code: str) -> Task:
    return Task.objects.get(journey__customer=customer, action__action_code=code)


def as_user(client, user, method: str, url: str, data=None, **extra):
    client.force_login(user)
    with clock.simulated(NOW):
        return getattr(client, method)(url, data or {}, **extra)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def takeable_ids(page) -> set[int]:
    return {r["task"].pk for r in page.context["takeable"]}


# --- the workbench --------------------------------------------------------------------------------------


def test_club_staff_see_the_coaching_of_their_citys_stores_they_may_take(client, province, walk_ins):
    customer = walk_ins["jinan"]

    page = as_user(client, province["club"], "get", "/")

    assert page.status_code == 200
    coaching = {task(customer, "internet_coaching").pk, task(customer, "number_change_coaching").pk}
    assert takeable_ids(page) == coaching  # not the store's notices, nothing of 青岛
    assert page.context["rows"] == []  # the club's own lists are unchanged: nothing is theirs yet
    body = page.content.decode()
    section = body[body.index('id="wb-takeable"'):]
    section = section[: section.index("</section>")]
    assert "可领取的辅导任务" in section and "上网辅导" in section and "换号通知设置辅导" in section
    assert "济南营业厅" in section and "套餐资费标准告知" not in section
    assert customer.masked_msisdn in section and customer.msisdn not in body
    assert section.count(f'action="/tasks/{task(customer, "internet_coaching").pk}/take/"') == 1
    assert "csrfmiddlewaretoken" in section


def test_a_walk_in_customer_is_found_by_number_among_what_the_club_may_take(client, province, walk_ins):
    other = builders.customer(city_obj=province["jinan"], activated_on=DAY0)
    cycle.cycle_run(as_of=clock.cycle_instant(DAY0) + dt.timedelta(hours=1), gateway=MemoryGateway(),
                       dispatch=False)
    assert task(other, "internet_coaching")
    customer = walk_ins["jinan"]

    page = as_user(client, province["club"], "get", "/", {"q": customer.msisdn[-4:]})

    assert {r["task"].journey.customer_id for r in page.context["takeable"]} == {customer.pk}


def test_staff_whose_unit_may_take_nothing_have_no_such_section(client, province, walk_ins):
    for who in ("clerk", "agent", "supervisor"):
        page = as_user(client, province[who], "get", "/")
        assert page.status_code == 200 and not page.context["takes"], who
        assert "可领取的辅导任务" not in page.content.decode(), who


# --- taking ---------------------------------------------------------------------------------------------


def test_club_staff_take_a_walk_in_customers_coaching_onto_the_clubs_worklist(client, province, walk_ins):
    customer = walk_ins["jinan"]
    coaching = task(customer, "internet_coaching")
    back = f"/?q={customer.msisdn[-4:]}"

    response = as_user(client, province["club"], "post", f"/tasks/{coaching.pk}/take/", {"next": back})

    assert response.status_code == 302 and response["Location"] == back
    coaching.refresh_from_db()
    assert coaching.owner_unit == builders.unit(province["jinan"], UnitKind.CLUB)
    assert coaching.assignee == province["club"] and coaching.status == ActionStatus.OPEN
    row = AuditEntry.objects.get(verb="task.take")
    assert row.channel == "web" and row.actor == province["club"]
    assert row.before == {"owner_unit": "jinan-store-1", "assignee": None}

    page = as_user(client, province["club"], "get", back)
    assert any("已领取“上网辅导”" in m and customer.masked_msisdn in m for m in messages_of(page))
    assert coaching.pk in {r["task"].pk for r in page.context["rows"]}  # on the club's own list now
    assert coaching.pk not in takeable_ids(page)
    assert coaching.pk not in {r["task"].pk for r in as_user(client, province["clerk"], "get", "/").context["rows"]}


def test_the_task_page_of_a_takeable_task_opens_for_the_club_with_the_take_button(client, province, walk_ins):
    customer = walk_ins["jinan"]
    coaching = task(customer, "number_change_coaching")

    opened = as_user(client, province["club"], "get", f"/tasks/{coaching.pk}/")
    assert opened.status_code == 302 and opened["Location"] == f"/customers/{customer.msisdn}/#task-{coaching.pk}"
    page = as_user(client, province["club"], "get", f"/customers/{customer.msisdn}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert f'action="/tasks/{coaching.pk}/take/"' in body and f'id="task-{coaching.pk}"' in body
    assert f'action="/tasks/{coaching.pk}/complete/"' not in body  # not theirs to record until taken
    assert f'/tasks/{task(customer, "tariff_notice").pk}/take/' not in body

    taken = as_user(client, province["club"], "post", f"/tasks/{coaching.pk}/take/", follow=True)
    assert taken.redirect_chain[-1][0] == f"/customers/{customer.msisdn}/#task-{coaching.pk}"
    body = taken.content.decode()
    assert f'action="/tasks/{coaching.pk}/complete/"' in body and f'/tasks/{coaching.pk}/take/' not in body
    done = as_user(client, province["club"], "post", f"/tasks/{coaching.pk}/complete/",
                   {"outcome": "reached", "has_checklist": "1", "check": ["voice_notice_set"]})
    assert done.status_code == 302
    coaching.refresh_from_db()
    assert coaching.status == ActionStatus.DONE and coaching.completed_by == province["club"]


def test_a_refused_take_is_a_message_not_an_error(client, province, walk_ins):
    coaching = task(walk_ins["jinan"], "internet_coaching")
    as_user(client, province["club"], "post", f"/tasks/{coaching.pk}/take/")

    again = as_user(client, province["club"], "post", f"/tasks/{coaching.pk}/take/", {"next": "/"}, follow=True)
    assert again.status_code == 200 and any("未领取" in m and "已在" in m for m in messages_of(again))
    store_own = task(walk_ins["jinan"], "number_change_coaching")
    by_clerk = as_user(client, province["clerk"], "post", f"/tasks/{store_own.pk}/take/", {"next": "/"}, follow=True)
    assert by_clerk.status_code == 200 and any("未领取" in m for m in messages_of(by_clerk))
    assert "http://evil.example" not in as_user(
        client, province["clerk"], "post", f"/tasks/{store_own.pk}/take/", {"next": "http://evil.example/"}
    )["Location"]
    assert AuditEntry.objects.filter(verb="task.take").count() == 1


def test_taking_is_a_post(client, province, walk_ins):
    coaching = task(walk_ins["jinan"], "internet_coaching")
    assert as_user(client, province["club"], "get", f"/tasks/{coaching.pk}/take/").status_code == 405


# --- what stays out of reach ------------------------------------------------------------------------------


def test_the_club_still_gets_404_for_store_tasks_it_may_not_take_and_for_another_citys(client, province, walk_ins):
    club = province["club"]
    terms = task(walk_ins["jinan"], "contract_terms_notice")
    qingdao_coaching = task(walk_ins["qingdao"], "internet_coaching")
    for hidden in (terms, qingdao_coaching):
        assert as_user(client, club, "get", f"/tasks/{hidden.pk}/").status_code == 404
        assert as_user(client, club, "post", f"/tasks/{hidden.pk}/take/").status_code == 404
        assert as_user(client, club, "post", f"/tasks/{hidden.pk}/complete/", {"outcome": "reached"}).status_code == 404
    assert as_user(client, club, "get", f"/customers/{walk_ins['qingdao'].msisdn}/").status_code == 404
    assert as_user(client, province["agent"], "post", f"/tasks/{terms.pk}/take/").status_code == 404
    assert as_user(client, province["club_qd"], "get", f"/tasks/{task(walk_ins['jinan'], 'internet_coaching').pk}/"
                   ).status_code == 404
    assert not AuditEntry.objects.filter(verb="task.take").exists()


def test_once_the_coaching_is_closed_the_clubs_reach_to_the_customer_ends(client, province, walk_ins):
    customer = walk_ins["jinan"]
    for code in ("internet_coaching", "number_change_coaching"):
        services.task_complete(task=task(customer, code), outcome="reached", completed_by=province["clerk"], at=NOW,
                               now=NOW)
    assert as_user(client, province["club"], "get", f"/customers/{customer.msisdn}/").status_code == 404
    assert as_user(client, province["club"], "get", f"/tasks/{task(customer, 'internet_coaching').pk}/"
                   ).status_code == 404
    visit = as_user(client, province["club"], "post", f"/customers/{customer.msisdn}/visit/",
                    {"task": [task(customer, "tariff_notice").pk], "outcome": "reached"})
    assert visit.status_code == 404


def test_a_takeable_task_can_be_seen_not_worked_until_taken(client, province, walk_ins):
    customer = walk_ins["jinan"]
    coaching = task(customer, "internet_coaching")
    response = as_user(client, province["club"], "post", f"/tasks/{coaching.pk}/complete/", {"outcome": "reached"},
                       follow=True)
    assert response.status_code == 200 and any("未登记" in m for m in messages_of(response))
    coaching.refresh_from_db()
    assert coaching.status == ActionStatus.OPEN and coaching.attempts == 0
    visit = as_user(client, province["club"], "post", f"/customers/{customer.msisdn}/visit/",
                    {"task": [coaching.pk], "outcome": "reached"})
    assert visit.status_code == 404  # a visit is the store's, on tasks of the user's own scope only


# --- cost -----------------------------------------------------------------------------------------------


def coaching_tasks(city, n: int) -> None:
    """n customers of `city`, each with a running internet coaching task on the city's main store."""
    store = builders.unit(city, UnitKind.STORE)
    due = clock.at_local(DAY0 + dt.timedelta(days=3), 23, 59)
    tasks = []
    for i in range(n):
        customer = builders.customer(city_obj=city, activated_on=DAY0, number_changed=i % 2 == 0,
                                     vip_tier=builders.vip_tier("gold") if i % 3 == 0 else None)
        action = JourneyAction.objects.create(
            journey=customer.journey, customer=customer, action_code="internet_coaching", stage=1, status=ActionStatus.OPEN,
            window_start=DAY0, window_end=DAY0 + dt.timedelta(days=3), due_at=due, opened_at=clock.at_local(DAY0, 6),
        )
        tasks.append(Task(action=action, journey=customer.journey, customer=customer, owner_unit=store, status=ActionStatus.OPEN,
                          due_at=due, created_at=clock.at_local(DAY0, 6), assignee=None))
    Task.objects.bulk_create(tasks)


def test_the_clubs_workbench_costs_the_same_queries_with_10_and_200_takeable_rows(client, province, monkeypatch):
    monkeypatch.setattr(workbench, "TAKEABLE_SHOWN", 200)

    def queries() -> tuple[int, int]:
        client.force_login(province["club"])
        with clock.simulated(NOW):
            client.get("/")  # the playbook's parse is cached per process: measure warm
            with CaptureQueriesContext(connection) as captured:
                page = client.get("/")
        assert page.status_code == 200
        return len(captured), len(page.context["takeable"])

    coaching_tasks(province["jinan"], 10)
    ten, rows = queries()
    assert rows == 10
    coaching_tasks(province["jinan"], 190)
    two_hundred, rows = queries()
    assert rows == 200
    assert ten == two_hundred


def test_the_list_shows_the_soonest_due_first_and_says_when_there_are_more(client, province, monkeypatch):
    monkeypatch.setattr(workbench, "TAKEABLE_SHOWN", 3)
    coaching_tasks(province["jinan"], 5)
    page = as_user(client, province["club"], "get", "/")
    assert len(page.context["takeable"]) == 3 and page.context["takeable_more"]
    assert "只显示最早到期的 3 条" in page.content.decode()


def test_the_section_and_the_take_read_in_english_after_the_switch(client, province, walk_ins):
    coaching = task(walk_ins["jinan"], "internet_coaching")
    client.force_login(province["club"])
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    with clock.simulated(NOW):
        body = client.get("/").content.decode()
        taken = client.post(f"/tasks/{coaching.pk}/take/", {"next": "/"}, follow=True)
    assert "Coaching you can take" in body and ">Take</button>" in body
    assert any(m.startswith("Taken: “Mobile internet coaching”") for m in messages_of(taken))
