"""Assignment rules as plain functions: which account manager a new VIP gets."""

from __future__ import annotations

from collections.abc import Mapping


def pick_least_loaded(loads: Mapping[int, int]) -> int | None:
    """The manager with the fewest open VIP customers; ties go to the lowest id (stable, explainable)."""
    if not loads:
        return None
    return min(loads, key=lambda manager: (loads[manager], manager))
