"""A bad playbook is refused before it is published, with one `path: reason` line per problem."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onboard90.playbook import content, schema, services


def _problems(document: dict) -> list[str]:
    with pytest.raises(schema.PlaybookError) as caught:
        content.validate_document(document)
    return caught.value.problems


def _action(document: dict, code: str) -> dict:
    return next(a for stage in document["stages"] for a in stage["actions"] if a["code"] == code)


def test_window_ending_before_it_starts_names_the_exact_path():
    document = services.default_document()
    _action(document, "first_bill_notice")["window"].update(start=2, end=0)
    assert _problems(document) == ["stages[2].actions[0].window.end: must be >= start"]


def test_unknown_audience_fact_is_refused_with_the_known_facts():
    document = services.default_document()
    _action(document, "number_change_coaching")["audience"] = "changed_number"
    (problem,) = _problems(document)
    assert problem.startswith(
        "stages[0].actions[7].audience: bad audience expression: unknown fact 'changed_number'"
    )
    assert "number_changed" in problem


def test_broken_jinja_template_is_refused_with_its_line():
    document = services.default_document()
    _action(document, "tariff_notice")["sms"]["template"] = "您好{{ package.name "
    (problem,) = _problems(document)
    assert problem.startswith("stages[0].actions[0].sms.template: bad SMS template (line 1):")


def test_duplicate_action_code_is_refused():
    document = services.default_document()
    _action(document, "onboarding_survey")["code"] = "package_fit_coaching"
    assert _problems(document) == ["(document): action code 'package_fit_coaching' is used twice"]


def test_superseded_by_an_unknown_action_is_refused():
    document = services.default_document()
    _action(document, "first_callback")["superseded_by"] = "vip_callback"
    assert _problems(document) == ["(document): first_callback.superseded_by: unknown action 'vip_callback'"]


def test_a_call_without_a_task_is_refused():
    document = services.default_document()
    del _action(document, "first_callback")["task"]
    assert _problems(document) == [
        "stages[1].actions[0]: deliveries name a staff delivery (verbal/call/hands_on) but there is no task"
    ]


def test_every_problem_is_reported_at_once():
    document = services.default_document()
    _action(document, "first_bill_notice")["window"].update(start=2, end=0)
    _action(document, "number_change_coaching")["audience"] = "changed_number"
    assert len(_problems(document)) == 2


def test_template_naming_a_variable_the_engine_never_provides_is_refused():
    document = services.default_document()
    _action(document, "vas_recommendation")["sms"]["template"] = "{{ local.vas_ofer }}"
    assert _problems(document) == [
        "stages[3].actions[0].sms.template: cannot render: 'dict object' has no attribute 'vas_ofer'"
    ]


def test_city_template_naming_a_missing_local_is_refused_for_that_city():
    document = services.default_document()
    document["city_overrides"]["qingdao"].setdefault("actions", {})["data_usage_notice"] = {
        "sms_template": "{{ local.beach_tip }}"
    }
    (problem,) = _problems(document)
    assert problem.startswith("city_overrides.qingdao.actions.data_usage_notice.sms_template: cannot render")


def test_signature_inside_a_template_is_refused_because_the_engine_adds_it():
    document = services.default_document()
    _action(document, "data_surge_alert")["sms"]["template"] = "【中国联通】流量提醒：您本月流量已用完。"
    (problem,) = _problems(document)
    assert problem.startswith("stages[5].actions[0].sms.template: contains the signature")


def test_city_template_for_an_action_that_sends_no_sms_is_refused():
    document = services.default_document()
    document["city_overrides"]["jinan"]["actions"]["contract_terms_notice"] = {"sms_template": "协议要点"}
    assert _problems(document) == [
        "city_overrides.jinan.actions.contract_terms_notice.sms_template: action 'contract_terms_notice' sends no SMS"
    ]


def test_long_template_and_one_that_breaks_without_a_bill_only_warn():
    document = services.default_document()
    _action(document, "first_bill_notice")["sms"]["template"] = (
        "应缴{{ bill.amount|money }}元。" + "请按时缴费。" * 25
    )
    _playbook, warnings = content.validate_document(document)
    assert any("when the customer has no name, VIP tier, manager or bill" in w for w in warnings)
    assert any("SMS parts" in w for w in warnings)


def test_a_document_that_is_not_a_mapping_is_refused():
    with pytest.raises(schema.PlaybookError) as caught:
        content.validate_document(["stages"])
    assert caught.value.problems == ["(document): must be a mapping with name and stages"]


@settings(max_examples=25, deadline=None)
@given(st.permutations(sorted(services.default_document())))
def test_checksum_does_not_depend_on_key_order(order):
    document = schema.validate(services.default_document()).model_dump(mode="json")
    reordered = {key: document[key] for key in order}
    assert services.document_checksum(reordered) == services.document_checksum(document)
