"""Signing in and out, and the language switch, in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_wrong_password_is_said_plainly_and_the_right_one_signs_in_and_out(province, people):
    visitor = people()
    visitor.sign_in("clerk", "wrong-password")
    expect(visitor.page.get_by_role("alert")).to_contain_text("用户名或密码不正确")
    expect(visitor.page.get_by_label("用户名")).to_have_value("clerk")
    visitor.shot("login-refused")

    visitor.sign_in("clerk")
    page = visitor.page
    expect(page.get_by_role("heading", name="工作台", exact=True)).to_be_visible()
    expect(page.get_by_text("王芳")).to_be_visible()  # the clerk's name in the frame, with their store
    assert page.evaluate("typeof window.htmx") == "object", "htmx did not load from the static files"

    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/login/"))
    page.goto(visitor.base_url + "/")  # signed out: the workbench sends back to sign in
    expect(page).to_have_url(re.compile(r"/login/\?next=/"))


def test_the_english_switch_changes_the_page_language_and_back(province, people):
    clerk = people("clerk")
    page = clerk.page
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_role("row").filter(has_text="186****0003").first).to_contain_text("已超时")

    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(r"/$"))  # the same page, now in English
    expect(page.get_by_role("row").filter(has_text="186****0003").first).to_contain_text("Overdue")
    nav = page.get_by_role("navigation").first
    expect(nav.get_by_role("link", name="Workbench")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    clerk.shot("workbench-en")

    page.get_by_role("button", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_role("button", name="退出")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="186****0003").first).to_contain_text("已超时")
