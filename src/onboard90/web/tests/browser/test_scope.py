"""No one reaches a record outside their unit, by any route: the 青岛 clerk and the 济南 customers."""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import expect

from onboard90.web.tests.browser import scenario

pytestmark = pytest.mark.browser

# Every page and export of the supervisors' (the escalations, the dashboard and each of its tables).
SUPERVISING = ["/escalations/", "/escalations/export.xlsx", "/dashboard/", "/dashboard/?city=jinan"] + [
    f"/dashboard/export/{name}.xlsx" for name in ("acts", "stages", "rows")
] + [f"/dashboard/export/ops-{name}.xlsx" for name in ("vip", "overdue", "sms", "workload", "forecast")]


def test_the_qingdao_clerk_cannot_reach_a_jinan_customer_by_url_search_or_export(province, people):
    clerk_qd = people("clerk_qd")
    page = clerk_qd.page

    # Their own customer is there, in today's list and on her page.
    page.get_by_role("link", name=re.compile("今日到期")).click()
    expect(page.get_by_role("row").filter(has_text="186****0011")).to_have_count(4)  # 孙丽, 青岛
    assert clerk_qd.open(f"/customers/{scenario.QINGDAO_DUE_TODAY}/").status == 200
    expect(page.get_by_role("heading", level=1)).to_contain_text("孙丽")

    # By URL: a 济南 customer is "not found", exactly like a number that does not exist.
    for msisdn in (scenario.DUE_TODAY, scenario.VIP_OWN, "18653199999"):
        assert clerk_qd.open(f"/customers/{msisdn}/").status == 404, msisdn
        expect(page.get_by_role("heading", name="未找到")).to_be_visible()
        expect(page.get_by_text(msisdn)).to_have_count(0)
    clerk_qd.shot("not-found")

    # By search, full number or last four digits: nothing.
    page.goto(clerk_qd.base_url + "/")
    for query in (scenario.DUE_TODAY, scenario.DUE_TODAY[-4:]):
        page.get_by_role("searchbox", name="号码").fill(query)
        page.get_by_role("button", name="查询").click()
        expect(page.get_by_text("没有符合条件的任务")).to_be_visible()
        expect(page.get_by_role("table")).to_have_count(0)
    clerk_qd.shot("search-nothing")

    # By a task's address (what a list row links to), by the supervisors' pages and exports: not found.
    from onboard90.journeys.models import Task

    jinan_task = Task.objects.filter(journey__customer__msisdn=scenario.DUE_TODAY).first()
    assert clerk_qd.open(f"/tasks/{jinan_task.pk}/").status == 404
    for url in SUPERVISING:
        response = page.request.get(clerk_qd.base_url + url)
        assert response.status == 404, url


def test_the_supervisors_export_holds_their_city_only_and_masked(province, people):
    """The other side of the same rule: an export someone may take holds their city's rows, masked."""
    import openpyxl

    supervisor = people("supervisor")
    response = supervisor.page.request.get(supervisor.base_url + "/escalations/export.xlsx")
    assert response.status == 200
    assert "spreadsheetml" in response.headers["content-type"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.body()), read_only=True).active
    cells = [str(cell) for row in sheet.iter_rows(values_only=True) for cell in row if cell is not None]
    assert any("186****0003" in cell for cell in cells)  # 张伟's overdue store acts, escalated
    assert not any(re.search(r"1865\d{7}", cell) for cell in cells)  # never a full number
    assert not any("186****001" in cell or "青岛" in cell for cell in cells)  # nothing of 青岛 (0011, 0012)
