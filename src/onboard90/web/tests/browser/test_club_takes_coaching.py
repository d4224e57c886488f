"""领取 in the browser: the club's staff, on the club's tablet, see the hands-on coaching of their city's stores
on their workbench, take a walk-in customer's coaching onto the club's desk and work it from the customer's
page, with the city's script naming the club.

The province is `scenario.py`'s: the club has nothing of its own; 刘洋 (changed number) and 陈静 have their
济南 store's coaching open, 孙丽's coaching belongs to 青岛 and is never offered.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from onboard90.journeys.models import Task
from onboard90.web.tests.browser import scenario
from onboard90.web.tests.browser.conftest import TABLET

pytestmark = pytest.mark.browser

TAKEABLE = "可领取的辅导任务"
CLUB = "济南3G客户俱乐部"


def task_of(msisdn: str, code: str) -> Task:
    return Task.objects.select_related("owner_unit", "assignee").get(
        journey__customer__msisdn=msisdn, action__action_code=code
    )


def section(page, heading: str):
    """The card under a heading (the pages' sections are titled, not labelled)."""
    return page.locator("section").filter(has=page.get_by_role("heading", name=heading, exact=True))


def test_the_club_takes_a_stores_internet_coaching_when_the_customer_walks_in(province, people):
    # 孙丽's coaching is open too, at her 青岛 store: the 济南 club must not be offered it.
    assert task_of(scenario.QINGDAO_DUE_TODAY, "internet_coaching").status == "open"

    club = people()
    page = club.page
    page.set_viewport_size(TABLET)  # the club's counter tablet
    club.sign_in("club")
    expect(page.get_by_text("李娜")).to_be_visible()

    # Nothing on the club's own desk; below, the 济南 stores' coaching it may take, masked and in Chinese.
    expect(page.get_by_role("link", name=re.compile("今日到期"))).to_contain_text("0")
    takeable = section(page, TAKEABLE)
    expect(takeable).to_be_visible()
    walk_in = takeable.get_by_role("row").filter(has_text="186****0004")  # 刘洋, changed number
    expect(walk_in).to_have_count(2)
    expect(walk_in.filter(has_text="上网辅导")).to_contain_text("济南营业厅")
    expect(walk_in.filter(has_text="上网辅导")).to_contain_text("换号")
    expect(walk_in.filter(has_text="换号通知设置辅导")).to_have_count(1)
    offered = takeable.get_by_role("row")
    expect(offered.filter(has_text="186****0005").filter(has_text="上网辅导")).to_have_count(1)  # 陈静
    expect(offered.filter(has_text="186****0011")).to_have_count(0)  # 孙丽, 青岛's
    expect(offered.filter(has_text="套餐资费标准告知")).to_have_count(0)  # a store's own act
    expect(page.get_by_text("18653100004")).to_have_count(0)  # the list never shows the full number
    text = takeable.inner_text()
    assert not re.search(r"\d{11}|[a-z]+_[a-z_]+|None", text), text
    takeable.scroll_into_view_if_needed()
    club.shot("workbench-tablet")

    # 刘洋 walks into the club: the internet coaching moves onto the club's desk, under her name.
    walk_in.filter(has_text="上网辅导").get_by_role("button", name="领取").click()
    expect(page.get_by_role("status").filter(has_text="已领取“上网辅导”")).to_contain_text(
        f"186****0004），任务已转到{CLUB}，由您负责"
    )
    coaching = task_of(scenario.DUE_TODAY, "internet_coaching")
    assert (coaching.status, coaching.owner_unit.name, coaching.assignee.username) == ("open", CLUB, "club")
    walk_in = section(page, TAKEABLE).get_by_role("row").filter(has_text="186****0004")
    expect(walk_in).to_have_count(1)  # the other coaching is still the store's, to take
    expect(walk_in).to_contain_text("换号通知设置辅导")

    # It is on the club's own list now: due tonight, the club's, hers.
    today = page.get_by_role("link", name=re.compile("今日到期"))
    expect(today).to_contain_text("1")
    today.click()
    expect(today).to_have_attribute("aria-current", "true")
    own = page.locator("#wb-results > .table-wrap").get_by_role("row").filter(has_text="186****0004")
    expect(own).to_have_count(1)
    expect(own).to_contain_text("上网辅导")
    expect(own).to_contain_text(CLUB)
    expect(own).to_contain_text("李娜")
    club.shot("workbench-after-tablet")

    # Its customer page: the coaching to record, with the script naming the club's venue; the other
    # coaching still to take.
    own.get_by_role("link", name="186****0004").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("18653100004")
    work = section(page, "上网辅导 进行中")
    script = work.locator("details").filter(has_text="服务话术")
    expect(script).to_contain_text("四会")
    expect(script).to_contain_text(f"{CLUB}（泉城路营业厅内）")
    expect(work.get_by_role("checkbox", name="四会：会上网")).to_be_visible()
    expect(work.get_by_role("button", name="登记")).to_be_visible()
    offer = section(page, TAKEABLE)
    expect(offer).to_contain_text("换号通知设置辅导")
    expect(offer.get_by_role("button", name="领取")).to_have_count(1)
    club.shot("customer-tablet", full=True)
