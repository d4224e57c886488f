"""Windows and anchors: when an act is due for one journey, as plain date arithmetic.

The cycle compiles the same arithmetic into SQL (`journeys.engine`); the single-customer preview calls
these functions. Day 0 is the local activation date; windows are inclusive at both ends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

ANCHORS = ("activation", "vip_rated", "manager_assigned", "bill_issued", "data_surge")


@dataclass(frozen=True)
class Span:
    start: dt.date
    end: dt.date


def window_span(anchor_on: dt.date, start: int, end: int) -> Span:
    return Span(anchor_on + dt.timedelta(days=start), anchor_on + dt.timedelta(days=end))


def journey_day(activated_on: dt.date, today: dt.date) -> int:
    return (today - activated_on).days


def phase(
    *,
    anchors: Mapping[str, dt.date | None],
    anchor: str,
    start: int,
    end: int,
    latest_day: int | None,
    today: dt.date,
) -> tuple[str, Span | None]:
    """Where an act stands on `today`: 'no_anchor', 'not_yet', 'due', 'passed' or 'too_late', with its span.

    'too_late' means the journey is past `latest_day` (the act no longer opens, e.g. a first-bill SMS
    after day 45); 'passed' means the whole window went by.
    """
    anchor_on = anchors.get(anchor)
    if anchor_on is None:
        return "no_anchor", None
    span = window_span(anchor_on, start, end)
    if today < span.start:
        return "not_yet", span
    if latest_day is not None and journey_day(anchors["activation"], today) > latest_day:
        return "too_late", span
    if today > span.end:
        return "passed", span
    return "due", span
