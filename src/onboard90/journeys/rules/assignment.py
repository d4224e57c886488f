"""Assignment rules as plain functions: which unit owns an act's task, which account manager a new VIP gets.

The cycle compiles the owner rule into SQL (`journeys.engine.owner_unit_expression`, from `unit_kind`,
`CHANNEL_UNIT_KIND` and `CITY_UNIT_ORDER`); the single-customer preview and the bench's generator call
`owner_unit` directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

# A task's channel -> the kind of unit of the customer's city that owns it. Store work (channel "store")
# belongs to the customer's activating store instead.
STORE_CHANNEL: Final = "store"
CHANNEL_UNIT_KIND: Final[Mapping[str, str]] = {
    "club": "club",
    "call_centre": "call_centre",
    "account_manager": "account_manager_team",
    "supervisor": "account_manager_team",
}

# A unit as the owner rule reads it: (id, kind, is_main), the Unit fields of that name.
UNIT_FIELDS: Final = ("id", "kind", "is_main")
UnitRow = tuple[int, str, bool]
# Which of a city's units of a kind owns the work: the main one first, then the lowest id. Written as the
# fields to order by (a leading "-": descending), the way the cycle's SQL orders the city's units.
CITY_UNIT_ORDER: Final = ("-is_main", "id")


def unit_kind(channel: str) -> str | None:
    """The kind of city unit that owns a task of `channel`; None for store work (the customer's store)."""
    if channel == STORE_CHANNEL:
        return None
    try:
        return CHANNEL_UNIT_KIND[channel]
    except KeyError:
        raise ValueError(f"unknown channel {channel!r}") from None


def _preference(unit: UnitRow) -> tuple[int, ...]:
    """The sort key `CITY_UNIT_ORDER` describes: the preferred unit sorts first."""
    key = []
    for field in CITY_UNIT_ORDER:
        value = int(unit[UNIT_FIELDS.index(field.removeprefix("-"))])
        key.append(-value if field.startswith("-") else value)
    return tuple(key)


def city_unit(kind: str, units: Iterable[UnitRow]) -> int | None:
    """The id of the unit of `kind` among a city's `units` that gets the work, or None if it has none."""
    candidates = [unit for unit in units if unit[1] == kind]
    return min(candidates, key=_preference)[0] if candidates else None


def owner_unit(channel: str, *, store_id: int, city_units: Iterable[UnitRow]) -> int:
    """The unit that owns a task of `channel` for a customer of store `store_id`, whose city has `city_units`.

    Store work goes to the activating store; club, call-centre, account-manager and supervisor work to
    that kind of unit of the customer's city (see `city_unit`), or to the store when the city has none.
    """
    kind = unit_kind(channel)
    chosen = None if kind is None else city_unit(kind, city_units)
    return store_id if chosen is None else chosen


def pick_least_loaded(loads: Mapping[int, int]) -> int | None:
    """The manager with the fewest open VIP customers; ties go to the lowest id (stable, explainable)."""
    if not loads:
        return None
    return min(loads, key=lambda manager: (loads[manager], manager))
