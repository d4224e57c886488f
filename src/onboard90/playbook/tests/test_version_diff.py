"""Two versions side by side: what changed, act by act and field by field, in Chinese."""

from __future__ import annotations

import copy

import pytest
from django.urls import reverse

from onboard90 import testing
from onboard90.playbook import diff, services

COMPARE = reverse("admin:playbook_playbookversion_compare")


def _document() -> dict:
    from onboard90.playbook import schema

    return schema.validate(services.default_document()).model_dump(mode="json")


def test_a_changed_field_an_added_and_a_removed_act_are_each_reported():
    before = _document()
    after = copy.deepcopy(before)
    after["stages"][1]["actions"][0]["window"]["end"] = 12
    removed = after["stages"][3]["actions"].pop(0)
    added = copy.deepcopy(removed) | {"code": "vas_followup", "name": "增值业务跟进"}
    after["stages"][4]["actions"].append(added)
    result = diff.document_diff(before, after)
    by_code = {item.code: item for item in result.acts}
    assert by_code["first_callback"].status == "changed"
    assert by_code["first_callback"].fields == [diff.FieldChange("window.end", 10, 12)]
    assert by_code["vas_recommendation"].status == "removed"
    assert by_code["vas_followup"].status == "added"
    assert result.counts() == {"added": 1, "removed": 1, "changed": 1}


def test_an_act_moved_to_another_stage_is_changed_not_removed():
    before = _document()
    after = copy.deepcopy(before)
    after["stages"][4]["actions"].append(after["stages"][3]["actions"].pop(0))
    (item,) = diff.document_diff(before, after).acts
    assert item.status == "changed" and item.fields[0] == diff.FieldChange("stage", "使用关怀时刻", "套餐适配时刻")


def test_identical_documents_have_no_differences():
    assert diff.document_diff(_document(), _document()).empty


@pytest.mark.django_db
def test_the_compare_page_shows_the_changed_field_side_by_side_in_chinese(admin_client):
    v1 = testing.playbook_version()
    document = copy.deepcopy(v1.document)
    document["stages"][1]["actions"][0]["window"]["end"] = 12
    document["stages"][1]["actions"][0]["task"]["channel"] = "account_manager"
    testing.playbook_version(document)
    response = admin_client.get(COMPARE, {"a": 1, "b": 2})
    page = response.content.decode()
    assert response.status_code == 200
    assert "从 v1 到 v2：新增 0 个服务动作，删除 0 个，修改 1 个" in page
    assert "新客户首次回访" in page and "时间窗结束(天)" in page and "责任渠道" in page
    assert "客服中心(10010)" in page and "客户经理" in page
    assert "window.end" not in page and "call_centre" not in page.split("<select")[0]


@pytest.mark.django_db
def test_the_compare_page_defaults_to_the_last_two_versions_and_refuses_a_bad_number(admin_client):
    v1 = testing.playbook_version()
    testing.playbook_version({**v1.document, "journey_days": 91})
    page = admin_client.get(COMPARE).content.decode()
    assert "导入期天数" in page and "91" in page
    bad = admin_client.get(COMPARE, {"a": "x", "b": 2})
    assert bad.status_code == 200 and "没有这个版本号" in bad.content.decode()


@pytest.mark.django_db
def test_with_one_version_there_is_nothing_to_compare(admin_client):
    testing.playbook_version()
    assert "暂无可比较的内容" in admin_client.get(COMPARE).content.decode()


@pytest.mark.django_db
def test_the_version_list_action_compares_two_selected_versions(admin_client):
    v1 = testing.playbook_version()
    v2 = testing.playbook_version({**v1.document, "journey_days": 91})
    response = admin_client.post(
        reverse("admin:playbook_playbookversion_changelist"),
        {"action": "compare_selected", "_selected_action": [v1.pk, v2.pk]},
    )
    assert response.status_code == 302 and response.url.endswith(f"{COMPARE}?a=1&b=2")
