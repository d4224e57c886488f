"""Acts that share an anchor and a window open together; the cycle's order of acts is kept (no database)."""

from __future__ import annotations

import yaml

from onboard90.journeys.engine import window_groups
from onboard90.playbook import schema
from onboard90.playbook.services import DEFAULT_PATH


def default_playbook() -> schema.Playbook:
    return schema.validate(yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8")))


def test_stage_one_activation_acts_open_as_one_group_in_plan_order():
    groups = window_groups(default_playbook().actions)
    first = [a.code for a in groups[0]]
    assert first == [
        "tariff_notice", "contract_terms_notice", "channels_notice", "billing_notice", "data_usage_notice",
        "club_recommendation", "number_change_coaching", "internet_coaching",
    ]


def test_every_act_is_in_exactly_one_group_and_a_group_shares_one_window():
    actions = default_playbook().actions
    groups = window_groups(actions)
    assert sorted(a.code for g in groups for a in g) == sorted(a.code for a in actions)
    for group in groups:
        assert len({a.window for a in group}) == 1


def test_a_group_takes_the_place_of_its_first_act_so_system_acts_still_come_first():
    actions = default_playbook().actions
    ordered = sorted(actions, key=lambda a: a.system is None)
    groups = window_groups(ordered)
    assert groups[0][0].system == "assign_account_manager"
    assert [a.code for a in groups[0]] == ["vip_manager_assignment", "tier_benefits_notice"]
    # The act anchored on the assignment comes in a later group than the assignment itself.
    position = {a.code: i for i, g in enumerate(groups) for a in g}
    assert position["vip_first_callback"] > position["vip_manager_assignment"]
