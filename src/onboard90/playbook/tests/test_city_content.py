"""Each city branch adapts content locally: its own template, extra script guidance and local facts."""

from __future__ import annotations

from onboard90.playbook import content, schema, services

PLAYBOOK = schema.validate(services.default_document())


def test_a_city_without_overrides_gets_the_provinces_template():
    action = PLAYBOOK.action("data_usage_notice")
    assert content.sms_template_for(PLAYBOOK, action, "zibo") == action.sms.template
    assert content.sms_template_for(PLAYBOOK, "data_usage_notice", None) == action.sms.template


def test_a_city_template_replaces_the_provinces_for_that_city_only():
    qingdao = content.sms_template_for(PLAYBOOK, "data_usage_notice", "qingdao")
    assert qingdao == PLAYBOOK.city_overrides["qingdao"].actions["data_usage_notice"].sms_template
    assert content.sms_template_for(PLAYBOOK, "data_usage_notice", "jinan") != qingdao


def test_an_action_that_sends_no_sms_has_no_template_anywhere():
    assert content.sms_template_for(PLAYBOOK, "contract_terms_notice", "qingdao") is None
    assert content.sms_template_for(PLAYBOOK, "vip_manager_assignment", None) is None


def test_script_extra_is_appended_to_the_provinces_script():
    base = PLAYBOOK.action("internet_coaching").task.script
    extra = PLAYBOOK.city_overrides["qingdao"].actions["internet_coaching"].script_extra
    assert content.script_for(PLAYBOOK, "internet_coaching", "qingdao") == f"{base}\n\n{extra}"
    assert content.script_for(PLAYBOOK, "internet_coaching", "jinan") == base


def test_an_action_without_a_task_has_an_empty_script():
    assert content.script_for(PLAYBOOK, "vip_manager_assignment", "jinan") == ""


def test_city_locals_overlay_the_defaults_key_by_key():
    jinan = content.locals_for(PLAYBOOK, "jinan")
    assert jinan["data_tip"] == PLAYBOOK.city_overrides["jinan"].locals["data_tip"]
    assert "摄影俱乐部" in jinan["club_subclubs"]
    assert jinan["vas_offer"] == PLAYBOOK.locals["vas_offer"]  # not overridden: the province's value
    assert content.locals_for(PLAYBOOK, "zibo") == PLAYBOOK.locals


def test_locals_for_returns_a_copy_the_caller_may_change():
    values = content.locals_for(PLAYBOOK, None)
    values["data_tip"] = "changed"
    assert PLAYBOOK.locals["data_tip"] != "changed"
