"""升级处理: a supervisor sees their city's escalations (the province every city's), acknowledges each once
(audited), reassigns from the list, exports what the page shows; no one else reaches any of it."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.core.models import AuditEntry
from onboard90.journeys import cycle, services
from onboard90.journeys.models import Escalation
from onboard90.org.enums import Role
from onboard90.org.scoping import scope_of
from onboard90.reporting.operations import PER_PAGE, operations_overview

pytestmark = pytest.mark.django_db

DAY0 = dt.date(2012, 3, 1)
STORE_ACTS = 4  # tariff, contract terms, club and internet coaching: store tasks due by the end of day 3


@pytest.fixture
def cities():
    """济南 and 青岛, a supervisor, a clerk and an agent each, the default playbook."""
    builders.package("A66")
    builders.playbook_version()
    made = {}
    for code in ("jinan", "qingdao"):
        city = builders.city(code)
        made[code] = {
            "city": city,
            "supervisor": builders.staff(f"boss_{code}", role=Role.SUPERVISOR, city_obj=city),
            "clerk": builders.staff(f"clerk_{code}", role=Role.STORE_CLERK, city_obj=city),
            "agent": builders.staff(f"agent_{code}", role=Role.CALL_CENTRE_AGENT, city_obj=city),
        }
    return made


def left_undone(city, n: int = 1) -> list:
    """`n` customers of `city` activated on DAY0 whose store acts nobody does: on day 4 each of their four
    store tasks is overdue and escalated."""
    customers = [builders.customer(city_obj=city, activated_on=DAY0) for _ in range(n)]
    for day in range(5):
        cycle.cycle_run(as_of=clock.cycle_instant(DAY0 + dt.timedelta(days=day)), dispatch=False)
    return customers


def signed_in(client, user):
    client.force_login(user)
    return client


def test_a_supervisor_sees_only_their_citys_escalations(client, cities):
    (mine,) = left_undone(cities["jinan"]["city"])
    (theirs,) = left_undone(cities["qingdao"]["city"])
    page = signed_in(client, cities["jinan"]["supervisor"]).get("/escalations/")
    assert page.status_code == 200
    rows = page.context["rows"]
    assert len(rows) == STORE_ACTS and page.context["count"] == STORE_ACTS
    assert {row["masked_msisdn"] for row in rows} == {mine.masked_msisdn}
    html = page.content.decode()
    assert mine.masked_msisdn in html and theirs.masked_msisdn not in html
    assert f">{mine.msisdn}<" not in html  # the full number only as the link to the customer page
    assert "套餐资费标准告知" in html and "tariff_notice" not in html
    # Oldest first: all four were raised at the same cycle, then in id order.
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)


def test_another_citys_escalation_by_url_is_404_and_others_cannot_open_the_page(client, cities):
    left_undone(cities["qingdao"]["city"])
    theirs = Escalation.objects.first()
    signed_in(client, cities["jinan"]["supervisor"])
    assert client.post(f"/escalations/{theirs.pk}/acknowledge/").status_code == 404
    assert client.post("/escalations/999999/acknowledge/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.acknowledged_at is None
    for user in (cities["jinan"]["clerk"], cities["jinan"]["agent"]):
        signed_in(client, user)
        assert client.get("/escalations/").status_code == 404
        assert client.get("/escalations/export.xlsx").status_code == 404
        assert client.get("/dashboard/export/ops-vip.xlsx").status_code == 404
    province = builders.staff("prov", role=Role.PROVINCE_ADMIN)
    assert signed_in(client, province).get("/escalations/").context["count"] == STORE_ACTS


def test_acknowledge_is_audited_and_cannot_be_done_twice(client, cities):
    left_undone(cities["jinan"]["city"])
    escalation = Escalation.objects.order_by("pk").first()
    boss = cities["jinan"]["supervisor"]
    signed_in(client, boss)

    response = client.post(
        f"/escalations/{escalation.pk}/acknowledge/",
        {"note": "已电话督促营业厅", "next": "/escalations/"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert f'id="esc-{escalation.pk}"' in response.content.decode() and "已确认" in response.content.decode()
    escalation.refresh_from_db()
    assert (escalation.acknowledged_by, escalation.note) == (boss, "已电话督促营业厅")
    entry = AuditEntry.objects.get(verb="escalation.acknowledge")
    assert (entry.actor, entry.object_id, entry.channel) == (boss, str(escalation.pk), "web")
    assert entry.after["note"] == "已电话督促营业厅"

    # Twice: refused with who and when, the first receipt kept, nothing more audited.
    other = builders.staff("boss2", role=Role.SUPERVISOR, city_obj=cities["jinan"]["city"])
    signed_in(client, other)
    again = client.post(f"/escalations/{escalation.pk}/acknowledge/", {"next": "/escalations/"}, follow=True)
    assert again.status_code == 200
    assert "已由 boss_jinan" in again.content.decode() and "无需重复确认" in again.content.decode()
    escalation.refresh_from_db()
    assert escalation.acknowledged_by == boss
    assert AuditEntry.objects.filter(verb="escalation.acknowledge").count() == 1
    with pytest.raises(services.EscalationRefused):
        services.escalation_acknowledge(escalation=escalation, acknowledged_by=other)


def test_the_service_refuses_someone_outside_the_escalations_city(cities):
    left_undone(cities["jinan"]["city"])
    escalation = Escalation.objects.first()
    for user in (cities["qingdao"]["supervisor"], cities["jinan"]["clerk"]):
        with pytest.raises(services.EscalationRefused):
            services.escalation_acknowledge(escalation=escalation, acknowledged_by=user)


def test_filters_by_acknowledgement_and_unit_and_bad_input_gives_a_message(client, cities):
    left_undone(cities["jinan"]["city"])
    first = Escalation.objects.order_by("pk").first()
    boss = cities["jinan"]["supervisor"]
    services.escalation_acknowledge(
        escalation=first, acknowledged_by=boss, now=clock.at_local(DAY0 + dt.timedelta(days=4), 9)
    )
    signed_in(client, boss)
    assert client.get("/escalations/").context["count"] == STORE_ACTS - 1  # pending: not yet acknowledged
    assert [r["id"] for r in client.get("/escalations/?state=acknowledged").context["rows"]] == [first.pk]
    assert client.get("/escalations/?state=all").context["count"] == STORE_ACTS
    store = builders.unit(cities["jinan"]["city"], "store")
    club = builders.unit(cities["jinan"]["city"], "club")
    assert client.get(f"/escalations/?state=all&unit={store.pk}").context["count"] == STORE_ACTS
    assert client.get(f"/escalations/?state=all&unit={club.pk}").context["count"] == 0
    bad = client.get("/escalations/?state=nonsense&unit=abc&page=zz")
    assert bad.status_code == 200
    assert "未知的处理状态" in bad.content.decode() and "单位参数无效" in bad.content.decode()


def test_the_reassign_form_offers_the_citys_units_and_staff(client, cities):
    left_undone(cities["jinan"]["city"])
    html = signed_in(client, cities["jinan"]["supervisor"]).get("/escalations/").content.decode()
    task = Escalation.objects.order_by("pk").first().task_id
    assert f'action="/tasks/{task}/reassign/"' in html
    assert 'name="to_unit"' in html and 'name="to_user"' in html and 'name="reason"' in html
    assert "济南10010客服中心" in html and "clerk_jinan" in html
    assert "青岛" not in html and "clerk_qingdao" not in html


def test_the_export_holds_the_pages_rows_masked(client, cities):
    customers = left_undone(cities["jinan"]["city"], n=2)
    signed_in(client, cities["jinan"]["supervisor"])
    page = client.get("/escalations/")
    export = client.get("/escalations/export.xlsx")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.content)).active
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    assert len(rows) == page.context["count"] == 2 * STORE_ACTS
    numbers = {row[3] for row in rows}
    assert numbers == {c.masked_msisdn for c in customers}
    assert [row[2] for row in rows] == [r["act"] for r in page.context["rows"]]


def test_ops_export_numbers_equal_the_dashboards(client, cities):
    left_undone(cities["jinan"]["city"], n=2)
    boss = cities["jinan"]["supervisor"]
    until = DAY0 + dt.timedelta(days=30)
    ops = operations_overview(scope=scope_of(boss), date_from=DAY0, date_to=until, today=clock.today())
    signed_in(client, boss)
    for name in ("overdue", "workload", "forecast", "sms", "vip"):
        export = client.get(f"/dashboard/export/ops-{name}.xlsx?from={DAY0:%Y-%m-%d}&to={until:%Y-%m-%d}")
        assert export.status_code == 200, name
        sheet = load_workbook(io.BytesIO(export.content)).active
        table = ops[name]
        assert [c.value for c in sheet[2]] == table["headers"]
        expected = [list(r) for r in table["rows"]] + ([table["total"]] if table["total"] else [])
        got = [
            [None if v is None else v for v in row] for row in sheet.iter_rows(min_row=3, values_only=True)
        ]
        assert [[_plain(v) for v in row] for row in got] == [[_plain(v) for v in row] for row in expected], (
            name
        )
    overdue = dict(zip(ops["overdue"]["headers"], ops["overdue"]["rows"][0], strict=True))
    assert overdue["期间升级"] == 2 * STORE_ACTS
    bad = client.get("/dashboard/export/ops-vip.xlsx?from=2012-13-01")
    assert bad.status_code == 302
    assert client.get("/dashboard/export/ops-nothing.xlsx").status_code == 404


def _plain(value):
    if isinstance(value, dt.datetime):
        return value.date()
    return "" if value is None else value


def test_the_pages_query_count_does_not_grow_with_its_rows(client, cities):
    signed_in(client, cities["jinan"]["supervisor"])

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            page = client.get("/escalations/?state=all")
        return len(captured), len(page.context["rows"])

    left_undone(cities["jinan"]["city"], n=3)  # 12 escalations
    queries()  # the parsed playbook is cached after its first read
    few, shown = queries()
    assert shown == 3 * STORE_ACTS
    left_undone(cities["jinan"]["city"], n=50)  # 200 more
    many, shown = queries()
    assert shown == PER_PAGE
    assert many == few
