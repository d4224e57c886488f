"""A day's work in the browser: the store clerk's visit, the agent's callback, the account manager's VIPs.

The province is `scenario.py`'s: the clock stands at 10:30 on TODAY, the daily cycles have opened each
person's work. The tests read the pages by their visible Chinese text and roles, as the staff do.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from onboard90.journeys.models import Task
from onboard90.web.tests.browser import scenario

pytestmark = pytest.mark.browser

VISIT = "本次接待：入网当天营业厅服务"


def tasks_of(msisdn: str) -> dict[str, Task]:
    return {t.action.action_code: t for t in Task.objects.filter(journey__customer__msisdn=msisdn).select_related("action")}


def section(page, heading: str):
    """The card under a heading (the pages' sections are titled, not labelled)."""
    return page.locator("section").filter(has=page.get_by_role("heading", name=heading, exact=True))


def figures(page, heading: str, row: str) -> dict[str, str]:
    """One row of a dashboard table, {column header: cell text}; {} when the row is not there."""
    table = page.locator("div").filter(has=page.get_by_role("heading", name=heading, exact=True)).get_by_role("table").last
    headers = table.get_by_role("columnheader").all_inner_texts()
    found = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name=row, exact=True))
    if not found.count():
        return {}
    return dict(zip(headers, found.first.locator("th, td").all_inner_texts(), strict=True))


def test_the_clerk_works_todays_visit_and_the_supervisors_dashboard_shows_it(province, people):
    # The supervisor's dashboard before: the coaching is due tonight, still in progress.
    supervisor = people("supervisor")
    supervisor.open("/dashboard/")
    before = figures(supervisor.page, "各服务动作明细", "换号通知设置辅导")
    assert (before["应做"], before["按时"], before["进行中"], before["按时率"]) == ("1", "0", "1", "—")
    store_before = figures(supervisor.page, "各营业厅（按客户入网营业厅）", "济南营业厅")

    clerk = people("clerk")
    page = clerk.page

    # The workbench opens on what is late (张伟's acts); today's list holds the changed-number customer's
    # five store acts, due tonight, masked.
    expect(page.get_by_role("link", name=re.compile("已超时"))).to_contain_text("4")
    today = page.get_by_role("link", name=re.compile("今日到期"))
    expect(today).to_contain_text("5")
    today.click()
    expect(today).to_have_attribute("aria-current", "true")
    rows = page.get_by_role("row").filter(has_text="186****0004")
    expect(rows).to_have_count(5)
    expect(rows.filter(has_text="换号通知设置辅导")).to_contain_text("还剩 14 小时")
    expect(page.get_by_text("18653100004")).to_have_count(0)  # the list never shows the full number
    clerk.shot("workbench", tablet=True)

    # The customer page, opened from the row: the full number, the facts, the visit's combined checklist.
    rows.filter(has_text="换号通知设置辅导").get_by_role("link", name="186****0004").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("18653100004")
    expect(page.get_by_role("heading", level=1)).to_contain_text("刘洋")
    facts = page.get_by_role("complementary", name="客户资料")
    expect(facts).to_contain_text("原号码 13053100004")
    visit = section(page, VISIT)
    expect(visit).to_be_visible()
    clerk.shot("customer", tablet=True, full=True)

    # Today only the number-change coaching is done: the other acts are left out of this visit.
    for act in ("套餐资费标准告知", "入网协议要点告知", "推荐3G客户俱乐部", "上网辅导"):
        visit.get_by_role("checkbox", name=act, exact=True).uncheck()
    visit.get_by_role("checkbox", name="已协助设置旧号码换号语音通知").check()
    visit.get_by_role("checkbox", name="已协助群发号码变更短信").check()
    visit.get_by_role("radio", name="已联系").check()
    visit.get_by_role("textbox", name=re.compile("备注")).fill("客户亲友已收到变更短信")
    visit.get_by_role("button", name="登记本次接待").click()

    expect(page.get_by_role("status").filter(has_text="本次接待已登记 1 项服务动作")).to_be_visible()
    coaching = page.get_by_role("row").filter(has=page.get_by_role("cell", name="换号通知设置辅导", exact=True))
    expect(coaching).to_contain_text("按时完成")
    clerk.shot("customer-after-visit")

    tasks = tasks_of(scenario.DUE_TODAY)
    done = tasks["number_change_coaching"]
    assert (done.status, done.outcome, done.completed_by.username) == ("done", "reached", "clerk")
    assert done.checklist == {"voice_notice_set": True, "change_sms_sent": True}
    assert "客户亲友已收到变更短信" in done.note
    assert {code for code, t in tasks.items() if t.status == "open"} == {
        "tariff_notice", "contract_terms_notice", "club_recommendation", "internet_coaching"
    }

    # Back on the workbench the act has left today's list.
    page.get_by_role("link", name="« 返回工作台").click()
    page.get_by_role("link", name=re.compile("今日到期")).click()
    expect(today).to_contain_text("4")
    expect(page.get_by_role("row").filter(has_text="186****0004")).to_have_count(4)

    # The supervisor's dashboard now counts it, on time, in the act's row and in the store's.
    supervisor.page.reload()
    after = figures(supervisor.page, "各服务动作明细", "换号通知设置辅导")
    assert (after["应做"], after["按时"], after["进行中"], after["按时率"]) == ("1", "1", "0", "100.0%")
    store_after = figures(supervisor.page, "各营业厅（按客户入网营业厅）", "济南营业厅")
    assert int(store_after["按时"]) == int(store_before["按时"]) + 1
    assert supervisor.page.evaluate("typeof window.echarts") == "object", "ECharts did not load"
    expect(supervisor.page.get_by_role("img").filter(has_text="换号通知设置辅导")).to_be_visible()  # the chart
    supervisor.shot("dashboard", full=True)
    supervisor.open("/escalations/")
    expect(supervisor.page.get_by_role("heading", name="升级处理")).to_be_visible()
    expect(supervisor.page.get_by_role("row").filter(has_text="186****0003")).to_have_count(4)
    supervisor.shot("escalations")


def test_the_agent_logs_no_answer_and_the_callback_stays_open_then_reaches_the_customer(province, people):
    agent = people("agent")
    page = agent.page

    page.get_by_role("link", name=re.compile("即将到期")).click()
    row = page.get_by_role("row").filter(has_text="186****0001")
    expect(row).to_contain_text("新客户首次回访")
    agent.shot("workbench")
    row.get_by_role("link", name="186****0001").click()

    callback = section(page, "新客户首次回访 进行中")
    expect(callback).to_contain_text("已联系 0/3 次")
    callback.get_by_role("radio", name="无人接听").check()
    callback.get_by_role("button", name="登记").click()
    expect(page.get_by_role("status").filter(has_text="任务仍待完成")).to_contain_text("第 1 次，共可尝试 3 次")
    callback = section(page, "新客户首次回访 进行中")
    expect(callback).to_contain_text("已联系 1/3 次")
    agent.shot("customer-no-answer")
    task = tasks_of(scenario.CALLBACK)["first_callback"]
    assert (task.status, task.attempts, task.outcome) == ("open", 1, "no_answer")

    callback.get_by_role("checkbox", name="已核实客户基本信息").check()
    callback.get_by_role("checkbox", name="已询问客户使用情况").check()
    callback.get_by_role("radio", name="已联系").check()
    callback.get_by_role("button", name="登记").click()
    expect(page.get_by_role("status").filter(has_text="任务已关闭")).to_contain_text("按时完成")
    expect(section(page, "新客户首次回访 进行中")).to_have_count(0)  # nothing left to work on it
    task.refresh_from_db()
    assert (task.status, task.attempts, task.outcome, task.completed_by.username) == ("done", 2, "reached", "agent")
    assert task.checklist["info_verified"] and not task.checklist["questions_answered"]


def test_the_account_manager_sees_only_their_own_vip_customers(province, people):
    manager = people("manager")
    page = manager.page

    # Every list of the workbench holds only 李秀英's acts (the other manager's VIP and the ordinary
    # customers of the city are someone else's work).
    seen: set[str] = set()
    for tab in ("已超时", "今日到期", "即将到期"):
        page.get_by_role("link", name=re.compile(tab)).click()
        expect(page.get_by_role("heading", level=2, name=re.compile(tab))).to_be_visible()
        for link in page.get_by_role("table").get_by_role("link").all():
            seen.add(link.inner_text())
    assert seen == {"186****0002"}
    page.get_by_role("link", name=re.compile("即将到期")).click()
    expect(page.get_by_role("row").filter(has_text="186****0002").first).to_contain_text("金卡")
    manager.shot("workbench")

    page.get_by_role("searchbox", name="号码").fill("0006")  # the other manager's VIP, by its last 4 digits
    page.get_by_role("button", name="查询").click()
    expect(page.get_by_text("没有符合条件的任务")).to_be_visible()

    # By URL: their VIP opens, anyone else's is "not found", exactly like a number that does not exist.
    assert manager.open(f"/customers/{scenario.VIP_OWN}/").status == 200
    expect(page.get_by_role("heading", level=1)).to_contain_text("李秀英")
    manager.shot("customer")
    for msisdn in (scenario.VIP_OTHER, scenario.CALLBACK, "18653199999"):
        assert manager.open(f"/customers/{msisdn}/").status == 404, msisdn
        expect(page.get_by_role("heading", name="未找到")).to_be_visible()
