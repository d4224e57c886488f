"""Each city branch adapts content locally (the plan: 各市分公司要结合当地情况): its own local facts for all
17 branches, extra script guidance, and where it wants one its own SMS template."""

from __future__ import annotations

import copy

from onboard90.org.services import _city_rows
from onboard90.playbook import content, schema, services

DOCUMENT = services.default_document()
PLAYBOOK = schema.validate(DOCUMENT)
CITIES = [row["code"] for row in _city_rows()]


def _with_qingdao_template(template: str) -> schema.Playbook:
    document = copy.deepcopy(DOCUMENT)
    overrides = document["city_overrides"]["qingdao"].setdefault("actions", {})
    overrides["data_usage_notice"] = {"sms_template": template}
    return schema.validate(document)


def test_every_one_of_the_17_cities_has_its_own_data_tip_subclubs_and_service_point():
    assert len(CITIES) == 17
    for city in CITIES:
        own = PLAYBOOK.city_overrides[city].locals
        assert {"data_tip", "club_subclubs", "service_point"} <= set(own), city
        assert own["data_tip"] != PLAYBOOK.locals["data_tip"], city
    tips = {PLAYBOOK.city_overrides[city].locals["data_tip"] for city in CITIES}
    assert len(tips) == 17  # each its own, not one text copied


def test_the_club_script_names_the_citys_own_subclubs_and_venue_and_promises_nothing_free():
    for city in CITIES:
        script = content.script_for(PLAYBOOK, "club_recommendation", city)
        own = PLAYBOOK.city_overrides[city].locals
        assert own["club_subclubs"] in script and own["service_point"] in script, city
        assert "免费" not in script and "{{" not in script


def test_the_english_club_script_quotes_the_citys_subclubs_too():
    script = content.script_for(PLAYBOOK, "club_recommendation", "qingdao", english=True)
    assert "帆船俱乐部" in script and "sub-clubs" in script


def test_a_city_without_its_own_template_gets_the_provinces():
    action = PLAYBOOK.action("data_usage_notice")
    assert content.sms_template_for(PLAYBOOK, action, "zibo") == action.sms.template
    assert content.sms_template_for(PLAYBOOK, "data_usage_notice", None) == action.sms.template


def test_a_package_familys_template_replaces_the_provinces_for_that_family():
    action = PLAYBOOK.action("data_usage_notice")
    assert content.sms_template_for(PLAYBOOK, action, "zibo", "datacard") == action.sms.by_family["datacard"]
    assert content.sms_template_for(PLAYBOOK, action, "zibo", "A") == action.sms.template


def test_a_city_template_replaces_the_provinces_for_that_city_only():
    playbook = _with_qingdao_template("青岛流量提示：{{ local.data_tip }}")
    qingdao = content.sms_template_for(playbook, "data_usage_notice", "qingdao", "datacard")
    assert qingdao == "青岛流量提示：{{ local.data_tip }}"  # the city writes for all its customers
    assert content.sms_template_for(playbook, "data_usage_notice", "jinan") != qingdao


def test_an_action_that_sends_no_sms_has_no_template_anywhere():
    assert content.sms_template_for(PLAYBOOK, "contract_terms_notice", "qingdao") is None
    assert content.sms_template_for(PLAYBOOK, "vip_manager_assignment", None) is None


def test_script_extra_is_appended_to_the_provinces_script_with_local_facts_filled_in():
    base = content.script_for(PLAYBOOK, "internet_coaching", "jinan")
    extra = PLAYBOOK.city_overrides["qingdao"].actions["internet_coaching"].script_extra
    qingdao = content.script_for(PLAYBOOK, "internet_coaching", "qingdao")
    assert qingdao.endswith(f"\n\n{extra}")
    assert "济南3G客户俱乐部" in base and "青岛3G客户俱乐部" in qingdao


def test_an_action_without_a_task_has_an_empty_script():
    assert content.script_for(PLAYBOOK, "vip_manager_assignment", "jinan") == ""


def test_city_locals_overlay_the_defaults_key_by_key():
    jinan = content.locals_for(PLAYBOOK, "jinan")
    assert jinan["data_tip"] == PLAYBOOK.city_overrides["jinan"].locals["data_tip"]
    assert "摄影俱乐部" in jinan["club_subclubs"]
    assert jinan["vas_offer"] == PLAYBOOK.locals["vas_offer"]  # not overridden: the province's value
    assert content.locals_for(PLAYBOOK, None) == PLAYBOOK.locals


def test_locals_for_returns_a_copy_the_caller_may_change():
    values = content.locals_for(PLAYBOOK, None)
    values["data_tip"] = "changed"
    assert PLAYBOOK.locals["data_tip"] != "changed"


def test_validate_warns_for_a_city_with_no_content_and_an_empty_reference_list():
    document = copy.deepcopy(DOCUMENT)
    del document["city_overrides"]["heze"]
    _playbook, warnings = content.validate_document(document, cities=CITIES, references={"payment_methods": []})
    assert any("city_overrides.heze" in w and "no local content" in w for w in warnings)
    assert any(w.startswith("payment_methods:") and "empty" in w for w in warnings)
    _playbook, clean = content.validate_document(DOCUMENT, cities=CITIES, references=None)
    assert not any("no local content" in w for w in clean)


def test_a_script_quoting_an_unknown_local_fact_is_refused():
    document = copy.deepcopy(DOCUMENT)
    document["stages"][0]["actions"][6]["task"]["script"] += "{{ local.no_such_fact }}"
    try:
        content.validate_document(document)
    except schema.PlaybookError as exc:
        assert any("cannot fill in" in p and "no_such_fact" in p for p in exc.problems)
    else:
        raise AssertionError("a script quoting an unknown fact was accepted")
