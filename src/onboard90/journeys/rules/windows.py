"""Windows and anchors: when an act is due for one journey, as plain date arithmetic.

The cycle compiles the same rules into SQL (`journeys.engine`: the window CASE columns take their values
from `window_span` and `due_at`, the latest-day cut-off from `earliest_activation`); the single-customer
preview calls them directly. Day 0 is the local activation date; windows are inclusive at both ends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from onboard90.core.operator_time import OPERATOR_TZ

ANCHORS = ("activation", "vip_rated", "manager_assigned", "bill_issued", "data_surge")

# An act is due by the last second of its window's last local day.
DUE_TIME = dt.time(23, 59, 59)


@dataclass(frozen=True)
class Span:
    start: dt.date
    end: dt.date


def window_span(anchor_on: dt.date, start: int, end: int) -> Span:
    return Span(anchor_on + dt.timedelta(days=start), anchor_on + dt.timedelta(days=end))


def due_at(span: Span, tz: dt.tzinfo = OPERATOR_TZ) -> dt.datetime:
    """The instant an act with this window is due by: 23:59:59 local time on the window's last day."""
    return dt.datetime.combine(span.end, DUE_TIME, tzinfo=tz)


def journey_day(activated_on: dt.date, today: dt.date) -> int:
    return (today - activated_on).days


def earliest_activation(today: dt.date, latest_day: int) -> dt.date:
    """The first activation date whose journey is not past `latest_day` on `today`: an act capped at
    `latest_day` still opens (or is recorded missed) only for customers activated on or after it."""
    return today - dt.timedelta(days=latest_day)


def past_latest_day(activated_on: dt.date, today: dt.date, latest_day: int | None) -> bool:
    """Whether the journey is past the act's `latest_day` on `today` (never, when the act has none)."""
    return latest_day is not None and activated_on < earliest_activation(today, latest_day)


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
    if latest_day is not None and past_latest_day(_activation(anchors), today, latest_day):
        return "too_late", span
    if today > span.end:
        return "passed", span
    return "due", span


def _activation(anchors: Mapping[str, dt.date | None]) -> dt.date:
    activated_on = anchors["activation"]
    if activated_on is None:
        raise ValueError("a journey's anchors must hold its activation date")
    return activated_on
