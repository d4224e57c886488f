"""The owner rule, without a database: which unit a task of each channel is on."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onboard90.journeys.rules.assignment import (
    CHANNEL_UNIT_KIND,
    CITY_UNIT_ORDER,
    STORE_CHANNEL,
    UNIT_FIELDS,
    UnitRow,
    city_unit,
    owner_unit,
    unit_kind,
)

KINDS = ("store", "club", "call_centre", "account_manager_team")
CHANNELS = (STORE_CHANNEL, *CHANNEL_UNIT_KIND)


@st.composite
def city_units(draw: st.DrawFn) -> list[UnitRow]:
    """A city's units in any order: ids distinct, any number of each kind, any of them marked main."""
    ids = draw(st.lists(st.integers(1, 60), unique=True, max_size=8))
    return [(pk, draw(st.sampled_from(KINDS)), draw(st.booleans())) for pk in ids]


def expected_owner(channel: str, store_id: int, units: list[UnitRow]) -> int:
    """The rule as the plan states it, written out: store work to the store; other work to the city's unit
    of its kind, a main one if there is one, else the lowest id; the store when the city has none."""
    if channel == "store":
        return store_id
    kind = {"club": "club", "call_centre": "call_centre"}.get(channel, "account_manager_team")
    of_kind = [unit for unit in units if unit[1] == kind]
    if not of_kind:
        return store_id
    mains = [pk for pk, _, is_main in of_kind if is_main]
    return min(mains) if mains else min(pk for pk, _, _ in of_kind)


@given(st.sampled_from(CHANNELS), st.integers(100, 200), city_units())
def test_the_owner_is_the_plans_unit(channel: str, store_id: int, units: list[UnitRow]) -> None:
    assert owner_unit(channel, store_id=store_id, city_units=units) == expected_owner(channel, store_id, units)


@given(st.sampled_from(KINDS), city_units(), st.randoms())
def test_the_citys_unit_does_not_depend_on_the_order_the_units_come_in(
    kind: str, units: list[UnitRow], rng: random.Random
) -> None:
    shuffled = list(units)
    rng.shuffle(shuffled)
    assert city_unit(kind, shuffled) == city_unit(kind, units)


def test_each_staff_channel_has_its_kind_and_store_work_has_none() -> None:
    assert unit_kind("store") is None
    assert {channel: unit_kind(channel) for channel in CHANNEL_UNIT_KIND} == {
        "club": "club", "call_centre": "call_centre", "account_manager": "account_manager_team",
        "supervisor": "account_manager_team",
    }
    with pytest.raises(ValueError, match="unknown channel 'shop'"):
        unit_kind("shop")


def test_the_order_names_fields_of_the_unit_row() -> None:
    assert {field.removeprefix("-") for field in CITY_UNIT_ORDER} <= set(UNIT_FIELDS)
    assert UNIT_FIELDS == ("id", "kind", "is_main")
