"""管理看板 (compliance): the supervisor sees their city, the administrator the province and drills down
city → store → staff member; the figures are the compliance report's, staff work shows at once, each
table exports with the page's numbers, and the page costs the same queries whatever it shows."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.journeys import cycle, services
from onboard90.journeys import selectors as journeys
from onboard90.journeys.enums import RUNNING
from onboard90.journeys.models import Task
from onboard90.org.enums import Role
from onboard90.reporting.tests.conftest import dispatch_at_the_cycles_instant, province  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

DAY0 = dt.date(2012, 3, 1)
TODAY = DAY0 + dt.timedelta(days=5)
NOW = clock.at_local(TODAY, 10, 30)
FROM, TO = dt.date(2012, 3, 1), dt.date(2012, 3, 20)


@pytest.fixture
def walked(province):  # noqa: F811
    """Customers of 济南 and 青岛 activated on days 0–2, cycles run to day 5; the clock stands at 10:30 that day."""
    builders.scratch_database()
    for n in range(3):
        for code in ("jinan", "qingdao"):
            for _ in range(2):
                builders.customer(city_obj=province[code]["city"], activated_on=DAY0 + dt.timedelta(days=n))
    with clock.simulated(NOW):
        for n in range(6):
            cycle.cycle_run(as_of=clock.cycle_instant(DAY0 + dt.timedelta(days=n)), gateway=province["gateway"])
        yield province


def signed_in(client, user):
    client.force_login(user)
    return client


def page(client, **params):
    response = client.get(reverse("dashboard"), {"from": FROM.isoformat(), "to": TO.isoformat(), **params})
    assert response.status_code == 200, response.status_code
    return response


@pytest.fixture
def admin():
    return builders.staff("province", role=Role.PROVINCE_ADMIN)


def test_the_supervisor_sees_their_citys_stores_with_the_reports_figures(client, walked):
    response = page(signed_in(client, walked["jinan"]["supervisor"]))
    overview = response.context["overview"]
    assert overview["level"] == "city" and overview["rows_kind"] == "store"
    report = journeys.compliance_report(
        by="store", as_of=NOW, due_from=FROM, due_to=TO
    )
    store = next(r for r in report["rows"] if r["store"] == "jinan-store-1")
    row = next(r for r in overview["rows"] if r["key"] == "jinan-store-1")
    assert {k: row[k] for k in journeys.FIGURES} == {k: store[k] for k in journeys.FIGURES}
    html = response.content.decode()
    assert "济南营业厅" in html and "青岛" not in html
    assert "tariff_notice" not in html  # acts by their Chinese names


def test_the_headline_tiles_show_the_totals_the_table_sums_to(client, walked):
    import re

    response = page(signed_in(client, walked["jinan"]["supervisor"]))
    total = response.context["overview"]["total"]
    tiles = re.search(r'<div class="tiles db-tiles">(.*?)</div>\s*</div>', response.content.decode(), re.S).group(1)
    shown = re.findall(r"<b>(.*?)</b>", tiles)
    assert total["due"] > 0
    assert shown == [
        f"{total['rate_pct']}%", str(total["due"]), str(total["done"]), str(total["overdue"]), str(total["missed"]),
        f"{total['done_late']} / {total['backdated']}",
    ]


def test_the_administrator_drills_down_from_province_to_city_to_a_units_staff(client, walked, admin):
    signed_in(client, admin)
    province_rows = page(client).context["overview"]["rows"]
    assert [r["label"] for r in province_rows] == ["济南", "青岛"]
    report = journeys.compliance_report(by="city", as_of=NOW, due_from=FROM, due_to=TO)
    assert [r["due"] for r in province_rows] == [r["due"] for r in report["rows"]]
    city = page(client, city="qingdao").context["overview"]
    assert [r["key"] for r in city["rows"]] == ["qingdao-store-1"]
    assert {u["code"] for u in city["other_units"]} == {"qingdao-club", "qingdao-am", "qingdao-cc"}
    unit = page(client, city="qingdao", unit="qingdao-store-1").context["overview"]
    assert unit["level"] == "unit" and unit["live"]
    # Store work is assigned to no one until someone does it: one row, all of the store's task-acts.
    store_tasks = Task.objects.filter(owner_unit__code="qingdao-store-1", action__due_at__lt=clock.at_local(TO + dt.timedelta(days=1)))
    assert sum(r["due"] for r in unit["rows"]) == unit["total"]["due"] == store_tasks.count()


def test_a_completion_shows_on_the_dashboard_at_once(client, walked):
    jinan = walked["jinan"]
    signed_in(client, jinan["supervisor"])
    before = page(client).context["overview"]["total"]
    task = Task.objects.filter(owner_unit__code="jinan-cc", status__in=RUNNING).order_by("due_at").first()
    services.task_complete(task=task, outcome="reached", completed_by=jinan["agent"], at=NOW, now=NOW)
    after = page(client).context["overview"]["total"]
    assert after["done"] + after["done_late"] == before["done"] + before["done_late"] + 1
    assert after["open"] + after["overdue"] == before["open"] + before["overdue"] - 1
    assert after["due"] == before["due"]


def test_a_supervisor_of_jinan_cannot_drill_into_qingdao(client, walked):
    signed_in(client, walked["jinan"]["supervisor"])
    assert client.get(reverse("dashboard"), {"city": "qingdao"}).status_code == 404
    assert client.get(reverse("dashboard"), {"unit": "qingdao-store-1"}).status_code == 404
    assert client.get(reverse("dashboard"), {"city": "jinan", "unit": "qingdao-cc"}).status_code == 404
    assert client.get(reverse("dashboard-export", args=["rows"]), {"city": "qingdao"}).status_code == 404
    assert client.get(reverse("dashboard"), {"city": "nowhere"}).status_code == 404


@pytest.mark.parametrize("who", ["clerk", "agent"])
def test_staff_without_supervision_have_no_dashboard(client, walked, who):
    signed_in(client, walked["jinan"][who])
    assert client.get(reverse("dashboard")).status_code == 404
    assert client.get(reverse("dashboard-export", args=["acts"])).status_code == 404


def test_each_export_has_the_pages_numbers(client, walked, admin):
    from openpyxl import load_workbook

    signed_in(client, admin)
    params = {"from": FROM.isoformat(), "to": TO.isoformat(), "city": "jinan"}
    overview = page(client, **params).context["overview"]
    for table, rows, width in [("rows", overview["rows"], 0), ("stages", overview["stages"], 0), ("acts", overview["acts"], 1)]:
        response = client.get(reverse("dashboard-export", args=[table]), params)
        assert response.status_code == 200
        sheet = load_workbook(io.BytesIO(response.content)).active
        lines = list(sheet.iter_rows(min_row=3, values_only=True))
        assert len(lines) == len(rows) + 1  # and the total
        for line, row in zip(lines, rows, strict=False):
            assert list(line[1 + width :]) == [row[f] for f in journeys.FIGURES]
        assert list(lines[-1][1 + width :]) == [overview["total"][f] for f in journeys.FIGURES]
    assert client.get(reverse("dashboard-export", args=["secrets"]), params).status_code == 404


def test_a_bad_date_is_a_message_not_an_error(client, walked):
    signed_in(client, walked["jinan"]["supervisor"])
    response = client.get(reverse("dashboard"), {"from": "2012-13-45", "to": "昨天"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "不是有效日期" in html and "2012-13-45" in html
    later = client.get(reverse("dashboard"), {"from": "2012-03-09", "to": "2012-03-01"})
    assert "晚于结束日期" in later.content.decode()
    assert client.get(reverse("dashboard-export", args=["acts"]), {"from": "garbage"}).status_code == 200


def test_the_page_costs_the_same_queries_for_few_and_many_rows(client, province):  # noqa: F811
    """10 stores then 200 stores (and their customers) in a city: the same number of queries."""
    from onboard90.org.models import Unit
    from onboard90.reporting.services import figures_rebuild

    builders.scratch_database()
    jinan = province["jinan"]["city"]
    signed_in(client, province["jinan"]["supervisor"])

    def grow_to(stores: int) -> int:
        have = Unit.objects.filter(city=jinan, kind="store").count()
        for n in range(have, stores):
            store = Unit.objects.create(code=f"jinan-s{n}", city=jinan, kind="store", name=f"济南{n}号营业厅")
            builders.customer(city_obj=jinan, activated_on=DAY0, store=store, start_journey=False)
        with clock.simulated(NOW):
            services.journeys_start(
                customer_ids=list(jinan.customers.values_list("pk", flat=True)), at=clock.at_local(DAY0, 10)
            )
            cycle.cycle_run(as_of=clock.cycle_instant(DAY0), gateway=province["gateway"], rescan=True)
            figures_rebuild(as_of=NOW)
            page(client)  # the playbook parsed, the session loaded
            with CaptureQueriesContext(connection) as queries:
                shown = len(page(client).context["overview"]["rows"])
        assert shown >= stores
        return len(queries)

    assert grow_to(10) == grow_to(200)
