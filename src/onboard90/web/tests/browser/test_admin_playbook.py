"""The province administrator changes the playbook in the admin: a valid edit publishes a new version, an
invalid one is refused with the validator's message naming the path, and the two versions compare."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from onboard90.playbook import selectors
from onboard90.playbook.models import PlaybookVersion

pytestmark = pytest.mark.browser

PUBLISH = "校验并发布新版本"


def test_the_admin_edits_an_act_publishes_it_and_an_invalid_edit_is_refused_with_its_path(province, people):
    admin = people("admin")
    page = admin.page

    page.get_by_role("navigation", name="主导航").get_by_role("link", name="管理后台").click()
    page.get_by_role("link", name="服务动作", exact=True).first.click()
    expect(page.get_by_role("rowheader", name=re.compile("新客户首次回访"))).to_be_visible()
    admin.shot("admin-acts")
    page.get_by_role("link", name="新客户首次回访", exact=True).click()
    expect(page.get_by_text("入网后第 4–10 天").first).to_be_visible()

    # A valid edit: two more days for the first callback, and one more try.
    page.get_by_label("时间窗结束(天)").fill("12")
    page.get_by_label("最多尝试次数").fill("4")
    page.get_by_role("button", name=PUBLISH).click()
    expect(page.get_by_text("已发布 v2（基于 v1）")).to_be_visible()
    expect(page.get_by_text("入网后第 4–12 天").first).to_be_visible()
    admin.shot("admin-act-published")
    act = selectors.playbook_of(selectors.current_version()).action("first_callback")
    assert (act.window.end, act.task.max_attempts) == (12, 4)

    # An invalid edit: a window that ends before it starts. Refused, with the path, nothing published.
    page.get_by_label("时间窗结束(天)").fill("2")
    page.get_by_role("button", name=PUBLISH).click()
    expect(page.get_by_text("校验未通过，未发布新版本").first).to_be_visible()
    expect(page.get_by_text(re.compile(r"stages\[1\]\.actions\[0\]\.window\.end: must be >= start")).first).to_be_visible()
    expect(page.get_by_label("时间窗结束(天)")).to_have_value("2")  # the form keeps what was typed
    admin.shot("admin-act-refused")
    assert PlaybookVersion.objects.count() == 2

    # The two versions side by side: what changed.
    page.goto(admin.base_url + "/admin/playbook/playbookversion/compare/?a=1&b=2")
    expect(page.get_by_text("新客户首次回访").first).to_be_visible()
    expect(page.get_by_text("时间窗结束(天)").first).to_be_visible()
    admin.shot("admin-compare")
