"""The shipped default playbook implements PLAYBOOK.md: every stage and action, with its plan/inferred marker."""

from __future__ import annotations

import re

import pytest

from onboard90.journeys.rules import audience
from onboard90.playbook import content, schema, services

# PLAYBOOK.md, action by action: (stage number, source marker).
EXPECTED_ACTIONS = {
    "tariff_notice": (1, "plan"),
    "contract_terms_notice": (1, "plan"),
    "channels_notice": (1, "plan"),
    "billing_notice": (1, "plan"),
    "data_usage_notice": (1, "plan"),
    "tier_benefits_notice": (1, "plan"),
    "club_recommendation": (1, "plan"),
    "number_change_coaching": (1, "plan"),
    "internet_coaching": (1, "plan"),
    "first_callback": (2, "plan"),
    "vip_manager_assignment": (2, "plan"),
    "vip_first_callback": (2, "plan"),
    "first_bill_notice": (3, "inferred"),
    "vas_recommendation": (4, "inferred"),
    "package_fit_coaching": (5, "inferred"),
    "onboarding_survey": (5, "inferred"),
    "data_surge_alert": (6, "inferred"),
}
EXPECTED_STAGES = [
    (1, "入网辅导时刻", (0, 3), "plan"),
    (2, "回访解惑时刻", (4, 10), "plan"),
    (3, "首账单释疑时刻", (11, 30), "inferred"),
    (4, "使用关怀时刻", (31, 60), "inferred"),
    (5, "套餐适配时刻", (61, 90), "inferred"),
    (6, "全程关怀", (0, 90), "inferred"),
]


@pytest.fixture(scope="module")
def playbook() -> schema.Playbook:
    return schema.validate(services.default_document())


def test_default_playbook_validates_without_content_problems():
    validated, warnings = content.validate_document(services.default_document())
    assert validated.name == "山东联通3G客户入网导入期服务方案(试行)"
    assert warnings == []


def test_default_playbook_has_exactly_the_seventeen_action_codes_in_their_stages(playbook):
    found = {
        action.code: (playbook.stage_of(action.code).number, action.source) for action in playbook.actions
    }
    assert found == EXPECTED_ACTIONS
    assert len(playbook.actions) == 17


def test_stages_carry_the_plan_markers_and_the_whole_period_stage_comes_last(playbook):
    assert [(s.number, s.name, tuple(s.days), s.source) for s in playbook.stages] == EXPECTED_STAGES
    assert playbook.stages[-1].code == "whole_period"
    # Day 5 is in stage 2, not the overlapping whole-period stage.
    assert playbook.stage_on_day(5).number == 2


def test_plan_stages_hold_twelve_plan_actions_and_the_rest_are_inferred(playbook):
    sources = [action.source for action in playbook.actions]
    assert sources.count("plan") == 12
    assert sources.count("inferred") == 5


def test_top_level_settings_follow_the_plan(playbook):
    assert playbook.journey_days == 90
    assert playbook.sms_signature == "【中国联通】"
    assert playbook.opt_out_suffix == "回复TD退订"
    assert (playbook.quiet_hours.start, playbook.quiet_hours.end) == ("08:00", "21:00")
    assert playbook.sms_daily_limit == 2
    assert {"data_tip", "club_subclubs", "service_point", "vas_offer"} <= set(playbook.locals)
    assert len(playbook.city_overrides) == 17
    for override in playbook.city_overrides.values():
        assert override.locals["data_tip"] and override.locals["club_subclubs"] and override.locals["service_point"]


def test_every_action_is_named_in_both_languages_and_says_what_it_covers(playbook):
    for action in playbook.actions:
        assert action.name and action.name_en and len(action.content) > 20, action.code


def test_every_task_has_a_bilingual_title_script_and_checklist(playbook):
    tasks = [action for action in playbook.actions if action.task is not None]
    assert len(tasks) == 11  # with the follow-up of an accepted offer (vas_recommendation)
    for action in tasks:
        task = action.task
        assert task.title and task.title_en, action.code
        assert task.script.count("。") >= 2 and len(task.script_en) > 100, action.code
        assert task.checklist, action.code
        for item in task.checklist:
            assert item.text and item.text_en, (action.code, item.code)


def test_tariff_notice_is_spoken_at_the_store_texted_and_hands_over_the_booklet(playbook):
    action = playbook.action("tariff_notice")
    assert action.deliveries == ["verbal", "sms"]
    assert action.task.channel == "store"
    handed = [item for item in action.task.checklist if item.code == "guide_handed_over"]
    assert handed and "《3G客户常用服务指南》" in handed[0].text


@pytest.mark.parametrize("code", ["channels_notice", "billing_notice", "data_usage_notice"])
def test_booklet_notices_go_by_guide_and_sms_without_a_task(playbook, code):
    action = playbook.action(code)
    assert action.deliveries == ["guide", "sms"]
    assert action.task is None and action.sms is not None


def test_contract_terms_checklist_names_the_plans_key_terms(playbook):
    codes = {item.code for item in playbook.action("contract_terms_notice").task.checklist}
    assert codes == {
        "minimum_term",
        "premium_number_rules",
        "contract_plan_offer",
        "deposit_refund",
        "data_cap",
        "first_month_tariff",
        "initial_password",
    }


def test_internet_coaching_checklist_records_parameters_four_skills_apps_and_a_game(playbook):
    action = playbook.action("internet_coaching")
    assert action.deliveries == ["hands_on"] and action.task.channel == "store"
    codes = [item.code for item in action.task.checklist]
    assert codes == [
        "internet_settings",
        "skill_sms",
        "skill_contacts",
        "skill_online",
        "skill_download",
        "apps_installed",
        "app_taught",
        "game_taught",
    ]


def test_club_recommendation_records_whether_the_customer_joined(playbook):
    action = playbook.action("club_recommendation")
    assert action.kind == "recommend" and action.task.channel == "store"
    assert "joined_club" in {item.code for item in action.task.checklist}


def test_tier_benefits_notice_follows_the_vip_rating_by_sms_and_account_manager(playbook):
    action = playbook.action("tier_benefits_notice")
    assert (action.window.anchor, action.window.start, action.window.end) == ("vip_rated", 0, 3)
    assert action.audience == "vip" and "sms" in action.deliveries
    assert action.task.channel == "account_manager"


def test_number_change_coaching_is_only_for_customers_who_changed_number(playbook):
    action = playbook.action("number_change_coaching")
    assert action.audience == 'number_changed and package_family != "datacard"'
    assert action.deliveries == ["hands_on"] and action.task.channel == "store"


def test_ordinary_first_callback_is_superseded_when_the_customer_becomes_vip(playbook):
    action = playbook.action("first_callback")
    assert (action.window.anchor, action.window.start, action.window.end) == ("activation", 4, 10)
    assert action.audience == 'not vip and package_family != "datacard"' and action.deliveries == ["call"]
    assert action.task.channel == "call_centre" and action.task.max_attempts == 3
    assert (action.supersede_when, action.superseded_by) == ("vip", "vip_first_callback")
    assert "推断" in action.content


def test_vip_manager_is_assigned_by_the_system_within_three_days_of_rating(playbook):
    action = playbook.action("vip_manager_assignment")
    assert (action.window.anchor, action.window.start, action.window.end) == ("vip_rated", 0, 3)
    assert action.kind == "system" and action.deliveries == ["system"]
    assert action.system == "assign_account_manager" and action.task is None


def test_vip_first_callback_is_due_within_seven_days_of_assignment(playbook):
    action = playbook.action("vip_first_callback")
    assert (action.window.anchor, action.window.start, action.window.end) == ("manager_assigned", 0, 7)
    assert action.task.channel == "account_manager" and action.task.max_attempts == 3


def test_first_bill_notice_goes_to_postpaid_customers_and_never_after_day_45(playbook):
    action = playbook.action("first_bill_notice")
    window = action.window
    assert (window.anchor, window.start, window.end, window.latest_day) == ("bill_issued", 0, 2, 45)
    facts = _facts(product="prepaid", postpaid=False)
    assert not audience.evaluate(audience.parse(action.audience), facts)
    assert audience.evaluate(audience.parse(action.audience), _facts())


def test_vas_recommendation_is_marketing_and_skips_customers_who_opted_out(playbook):
    action = playbook.action("vas_recommendation")
    assert action.sms.message_class == "marketing"
    assert (action.window.start, action.window.end) == (31, 37)
    assert not audience.evaluate(audience.parse(action.audience), _facts(marketing_opt_out=True))
    # Every other message is a service notice: no opt-out text and no consent check.
    others = [a.code for a in playbook.actions if a.sms and a.sms.message_class == "marketing"]
    assert others == ["vas_recommendation"]


def test_package_fit_coaching_calls_postpaid_customers_twice_at_most(playbook):
    action = playbook.action("package_fit_coaching")
    assert (action.window.start, action.window.end) == (61, 75)
    assert action.audience == "postpaid" and action.deliveries == ["sms", "call"]
    assert action.task.channel == "call_centre" and action.task.max_attempts == 2
    assert "用量" in action.task.script


def test_onboarding_survey_texts_everyone_and_calls_vips_only(playbook):
    action = playbook.action("onboarding_survey")
    assert (action.window.start, action.window.end) == (85, 90)
    assert action.audience == "true" and "1-5" in action.sms.template
    assert action.task.channel == "account_manager" and action.task.audience == "vip"


def test_data_surge_alert_fires_on_the_day_of_the_surge(playbook):
    action = playbook.action("data_surge_alert")
    assert (action.window.anchor, action.window.start, action.window.end) == ("data_surge", 0, 0)
    assert action.deliveries == ["sms"] and action.kind == "alert"


def test_default_document_is_a_fresh_copy_each_time():
    first = services.default_document()
    first["stages"].clear()
    assert len(services.default_document()["stages"]) == 6


def _facts(**overrides) -> dict:
    facts = {
        "vip": False,
        "number_changed": False,
        "marketing_opt_out": False,
        "postpaid": True,
        "product": "postpaid",
        "handset_os": "android",
        "city": "jinan",
        "package": "A66",
        "package_family": "A",
        "vip_level": "",
        "first_month": "full",
        "vip_rank": 0,
        "monthly_fee": 66,
    }
    facts.update(overrides)
    return facts


def test_chinese_texts_have_no_stray_spaces_from_folded_yaml_lines(playbook):
    # A folded YAML block (>-) joins lines with a space, which reads as a typo between Chinese characters.
    stray = re.compile(r"[\u3000-\u9fff\uff00-\uffef] [\u3000-\u9fff\uff00-\uffef]")
    for action in playbook.actions:
        texts = [action.content, action.task.script if action.task else ""]
        assert not any(stray.search(text) for text in texts), action.code
