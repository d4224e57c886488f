"""Windows, due instants and the latest-day cut-off, without a database.

The cycle selects the journeys an act is due for by an anchor-date range (`anchor` between today - end and
today - start) and a cut-off on the activation date (`earliest_activation`); the preview asks `phase`.
These properties hold the two formulations to one answer.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from onboard90.core.operator_time import OPERATOR_TZ
from onboard90.journeys.rules.windows import (
    DUE_TIME,
    Span,
    due_at,
    earliest_activation,
    journey_day,
    past_latest_day,
    phase,
    window_span,
)

dates = st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31))
offsets = st.integers(0, 366)
latest_days = st.none() | st.integers(0, 366)


@st.composite
def windows(draw: st.DrawFn) -> tuple[int, int]:
    start = draw(offsets)
    return start, draw(st.integers(start, 366))


@given(dates, windows())
def test_a_window_runs_from_anchor_plus_start_to_anchor_plus_end(anchor_on: dt.date, window: tuple[int, int]) -> None:
    start, end = window
    span = window_span(anchor_on, start, end)
    assert (span.start - anchor_on).days == start and (span.end - anchor_on).days == end
    assert span.start <= span.end


@given(dates, dates)
def test_the_due_instant_is_the_last_second_of_the_windows_last_local_day(first: dt.date, last: dt.date) -> None:
    span = Span(min(first, last), max(first, last))
    due = due_at(span)
    assert due.tzinfo is OPERATOR_TZ and due.date() == span.end and due.timetz().replace(tzinfo=None) == DUE_TIME
    # In absolute time: one second later it is midnight of the next local day.
    after = (due.astimezone(dt.UTC) + dt.timedelta(seconds=1)).astimezone(OPERATOR_TZ)
    assert after.date() == span.end + dt.timedelta(days=1) and after.time() == dt.time(0, 0)


@given(dates, st.integers(0, 86399))
def test_every_instant_of_the_last_day_is_on_time_and_none_of_the_next(end: dt.date, second: int) -> None:
    due = due_at(Span(end, end))
    moment = dt.timedelta(seconds=second)
    on_the_day = dt.datetime.combine(end, dt.time(), tzinfo=OPERATOR_TZ) + moment
    next_day = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=OPERATOR_TZ) + moment
    assert on_the_day <= due < next_day


@given(dates, dates, latest_days)
def test_the_cut_off_date_and_the_journey_day_say_the_same(
    activated_on: dt.date, today: dt.date, latest_day: int | None
) -> None:
    past = latest_day is not None and journey_day(activated_on, today) > latest_day
    assert past_latest_day(activated_on, today, latest_day) == past
    if latest_day is not None:
        assert (activated_on >= earliest_activation(today, latest_day)) == (not past)


@st.composite
def situations(draw: st.DrawFn) -> tuple[dict[str, dt.date | None], str, int, int, int | None, dt.date]:
    activated_on = draw(dates)
    later = st.none() | st.integers(0, 120).map(lambda days: activated_on + dt.timedelta(days=days))
    anchors: dict[str, dt.date | None] = {
        "activation": activated_on, "vip_rated": draw(later), "manager_assigned": draw(later),
        "bill_issued": draw(later), "data_surge": None,
    }
    start, end = draw(windows())
    today = activated_on + dt.timedelta(days=draw(st.integers(-5, 400)))
    return anchors, draw(st.sampled_from(sorted(anchors))), start, end, draw(latest_days), today


@given(situations())
def test_the_preview_phase_is_the_cycles_date_ranges(
    situation: tuple[dict[str, dt.date | None], str, int, int, int | None, dt.date],
) -> None:
    anchors, anchor, start, end, latest_day, today = situation
    where, span = phase(anchors=anchors, anchor=anchor, start=start, end=end, latest_day=latest_day, today=today)
    anchor_on = anchors[anchor]
    if anchor_on is None:
        assert (where, span) == ("no_anchor", None)
        return
    assert span == window_span(anchor_on, start, end)
    activated_on = anchors["activation"]
    assert activated_on is not None
    # The cycle: due today when the anchor is in [today - end, today - start] ("opened"); gone by unseen when
    # it is before today - end ("missed"); either only for journeys activated on or after the cut-off.
    kept = latest_day is None or activated_on >= earliest_activation(today, latest_day)
    lo, hi = today - dt.timedelta(days=end), today - dt.timedelta(days=start)
    opened = kept and lo <= anchor_on <= hi
    missed = kept and anchor_on < lo
    assert (where == "due") == opened
    assert (where == "passed") == missed
    assert (where == "not_yet") == (anchor_on > hi)
    assert (where == "too_late") == (anchor_on <= hi and not kept)
