"""The playbook in the admin: the province administrator reads the current version's stages and acts in
Chinese, edits an act or a stage, and every edit is validated like `playbook validate` and published as a
new version; supervisors get none of it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from onboard90 import testing
from onboard90.core.models import AuditEntry
from onboard90.playbook import selectors
from onboard90.playbook.models import PlaybookVersion

pytestmark = pytest.mark.django_db

ACTS = reverse("admin:playbook_playbookact_changelist")
STAGES = reverse("admin:playbook_playbookstage_changelist")


def act_page(code: str) -> str:
    return reverse("admin:playbook_playbookact_change", args=[code])


@pytest.fixture
def v1():
    return testing.playbook_version()


@pytest.fixture
def province(client):
    """The province administrator as `staff add` makes one (staff, not necessarily superuser)."""
    user = testing.staff("sd_admin", role="province_admin")
    user.is_staff = True
    user.save()
    client.force_login(user)
    return client


@pytest.fixture
def supervisor(client):
    jinan = testing.city("jinan")
    user = testing.staff("jn_supervisor", role="supervisor", city_obj=jinan)
    user.is_staff = True  # supervisors are staff; the playbook is still not theirs
    user.save()
    client.force_login(user)
    return client


def form_data(client, code: str, **changes) -> dict:
    """The act's edit form as the browser would post it, with some fields changed."""
    form = client.get(act_page(code)).context["form"]
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if name == "task_checklist":
            value = field.prepare_value(value)
        data[name] = "" if value is None else value
    data.update(changes)
    return data


def test_the_act_list_shows_every_act_in_chinese_with_window_owner_and_filters(province, v1):
    page = province.get(ACTS).content.decode()
    assert "服务动作" in page and "当前版本 v1" in page
    assert "套餐资费标准告知" in page and "新客户首次回访" in page
    assert "入网后第 0–3 天" in page and "首张账单出账后第 0–2 天，最迟入网后第 45 天" in page
    assert "客服中心(10010)" in page and "口头告知、短信" in page
    assert "按阶段" in page and "按责任渠道" in page


def test_the_act_list_filters_by_stage_and_by_channel(province, v1):
    callback = province.get(ACTS, {"stage": "callback"}).context["rows"]
    assert [row["code"] for row in callback] == ["first_callback", "vip_manager_assignment", "vip_first_callback"]
    call_centre = province.get(ACTS, {"channel": "call_centre"}).context["rows"]
    assert [row["code"] for row in call_centre] == ["first_callback", "package_fit_coaching"]


def test_an_act_page_shows_script_checklist_attempts_and_the_clock(province, v1):
    response = province.get(act_page("first_callback"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "新客户首次回访" in page and "入网后第 4–10 天" in page
    assert "入网后第 10 天内完成，逾期升级至主管" in page
    assert "已核实客户基本信息" in page and "最多尝试次数" in page
    assert "您好，我是中国联通10010客服代表" in page
    assert "校验并发布新版本" in page  # the province administrator may edit it


def test_the_stage_list_and_a_stage_page_render(province, v1):
    page = province.get(STAGES).content.decode()
    assert "入网辅导时刻" in page and "第 0–3 天" in page and "全程关怀" in page
    detail = province.get(reverse("admin:playbook_playbookstage_change", args=["callback"])).content.decode()
    assert "回访解惑时刻" in detail and "VIP首次回访" in detail


def test_an_unknown_act_is_a_404(province, v1):
    assert province.get(act_page("no_such_act")).status_code == 404


def test_a_valid_edit_publishes_the_next_version_and_audits_the_change(province, v1):
    data = form_data(province, "first_callback", window_end="12", task_max_attempts="4")
    response = province.post(act_page("first_callback"), data)
    assert response.status_code == 302
    current = selectors.current_version()
    assert current.number == 2 and current.published_by.username == "sd_admin"
    action = selectors.playbook_of(current).action("first_callback")
    assert (action.window.end, action.task.max_attempts) == (12, 4)
    v1.refresh_from_db()
    assert v1.document["stages"][1]["actions"][0]["window"]["end"] == 10  # v1 itself never changes
    entry = AuditEntry.objects.get(verb="playbook.publish")
    assert entry.actor.username == "sd_admin"
    assert entry.before["number"] == 1 and entry.after["number"] == 2
    assert entry.before["changes"] == {"acts.first_callback.window.end": 10, "acts.first_callback.task.max_attempts": 3}
    assert entry.after["changes"] == {"acts.first_callback.window.end": 12, "acts.first_callback.task.max_attempts": 4}
    followed = province.get(response.url).content.decode()
    assert "已发布 v2（基于 v1）" in followed and "入网后第 4–12 天" in followed


def test_saving_an_act_unchanged_publishes_nothing(province, v1):
    # As a browser sends it: textarea lines end in CRLF, checkboxes come in the form's order.
    data = {k: v.replace("\n", "\r\n") if isinstance(v, str) else v for k, v in form_data(province, "tariff_notice").items()}
    assert "\r\n" in data["sms_template"]
    data["deliveries"] = ["sms", "verbal"]
    response = province.post(act_page("tariff_notice"), data, follow=True)
    assert "内容没有变化，未发布新版本" in response.content.decode()
    assert PlaybookVersion.objects.count() == 1
    assert not AuditEntry.objects.filter(verb="playbook.publish").exists()


def test_an_invalid_edit_is_refused_with_the_validators_path_and_publishes_nothing(province, v1):
    data = form_data(province, "first_callback", window_start="8", window_end="5")
    response = province.post(act_page("first_callback"), data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "校验未通过，未发布新版本" in page
    assert "stages[1].actions[0].window.end: must be &gt;= start" in page
    assert PlaybookVersion.objects.count() == 1
    assert not AuditEntry.objects.filter(verb="playbook.publish").exists()


def test_a_broken_sms_template_is_refused_by_the_render_check(province, v1):
    data = form_data(province, "tariff_notice", sms_template="您好{{ customer.nickname }}")
    page = province.post(act_page("tariff_notice"), data).content.decode()
    assert "stages[0].actions[0].sms.template: cannot render" in page
    assert PlaybookVersion.objects.count() == 1


def test_a_stage_edit_is_validated_and_published_the_same_way(province, v1):
    url = reverse("admin:playbook_playbookstage_change", args=["callback"])
    bad = province.post(url, {"name": "回访解惑时刻", "name_en": "Callback", "first_day": "10", "last_day": "4"})
    assert "stages[1].days" in bad.content.decode() and PlaybookVersion.objects.count() == 1
    good = province.post(url, {"name": "回访时刻", "name_en": "Callback", "first_day": "4", "last_day": "10"})
    assert good.status_code == 302
    assert selectors.playbook_of(selectors.current_version()).stages[1].name == "回访时刻"


def test_an_edit_made_on_an_older_version_is_refused(province, v1):
    data = form_data(province, "first_callback", window_end="12")
    testing.playbook_version({**v1.document, "journey_days": 91})  # someone published v2 meanwhile
    # The form is now on v2; an edit still based on v1 would undo it, so the service refuses it.
    from onboard90.playbook import services

    with pytest.raises(services.PlaybookStale, match="v2"):
        services.playbook_edit(based_on=v1, edited_by=None, action="first_callback", changes={"window.end": 12})
    assert province.post(act_page("first_callback"), data).status_code == 302  # on v2 the edit is fine
    assert selectors.current_version().number == 3


def test_an_older_version_reads_but_has_no_form(province, v1):
    testing.playbook_version({**v1.document, "journey_days": 91})
    response = province.get(act_page("first_callback"), {"v": 1})
    assert response.status_code == 200 and response.context["form"] is None
    assert "历史版本 v1" in response.content.decode()


def test_a_supervisor_sees_neither_lists_nor_change_forms(supervisor, v1):
    for url in (ACTS, STAGES, act_page("first_callback"), reverse("admin:playbook_playbookversion_changelist"),
                reverse("admin:playbook_playbookversion_compare")):
        assert supervisor.get(url).status_code == 403, url
    assert supervisor.post(act_page("first_callback"), {"window_end": "99"}).status_code == 403
    assert "服务动作" not in supervisor.get(reverse("admin:index")).content.decode()
    assert PlaybookVersion.objects.count() == 1


def test_a_signed_out_visitor_is_sent_to_the_admin_sign_in(client, v1):
    response = client.get(ACTS)
    assert response.status_code == 302 and "/admin/login/" in response.url


def test_the_admin_index_lists_stages_and_acts_for_the_province(province, v1):
    page = province.get(reverse("admin:index")).content.decode()
    assert ACTS in page and STAGES in page and "阶段" in page
