"""Acts that share an anchor and a window open together; the cycle's order of acts is kept; which wait for
which when they run side by side (no database)."""

from __future__ import annotations

import yaml

from onboard90.journeys.cycle import stages, waits, window_groups
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


def test_groups_that_read_the_manager_assignment_wait_for_it_and_the_others_run_beside_it():
    ordered = sorted(default_playbook().actions, key=lambda a: a.system is None)
    groups = window_groups(ordered)
    firsts = [g[0].code for g in groups]
    waiting = {firsts[i]: firsts[w] for i, w in enumerate(waits(groups)) if w is not None}
    # Anchored on the assignment; and the survey is on the account manager's worklist (assignee = manager).
    assert waiting == {"vip_first_callback": "vip_manager_assignment", "onboarding_survey": "vip_manager_assignment"}


def test_without_a_system_act_no_group_waits_for_another():
    groups = window_groups([a for a in default_playbook().actions if a.system is None])
    assert waits(groups) == [None] * len(groups)
    assert waits([]) == []


def test_on_workers_the_groups_that_wait_run_in_the_stage_after_what_they_wait_for():
    ordered = sorted(default_playbook().actions, key=lambda a: a.system is None)
    groups = window_groups(ordered)
    stage = stages(waits(groups))
    firsts = [g[0].code for g in groups]
    assert {firsts[i] for i, s in enumerate(stage) if s == 1} == {"vip_first_callback", "onboarding_survey"}
    assert max(stage) == 1 and stage[firsts.index("vip_manager_assignment")] == 0
    # A chain of waits is a chain of stages; the groups waiting for none all run in the first.
    assert stages([None, 0, 1, None, 1]) == [0, 1, 2, 0, 2]
    assert stages([]) == []
