"""The sending policy (`policy.sending_verdict`), alone: plain values in, a verdict out, no database.

Each rule at hand-picked instants around the edges it draws (08:00 and 21:00 Asia/Shanghai, the window's last
second, the daily cap's next opening), the order the rules apply in when several hold at once, and a
hypothesis property over random instants, windows, caps and sending hours: a SEND is never at night, never
outside the message's window, never marketing to an opted-out customer, never over the cap; a HOLD names an
instant inside the sending hours and inside the window, at which the same message may then leave.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from onboard90.core import clock
from onboard90.messaging import policy
from onboard90.messaging.policy import (
    DAILY_LIMIT,
    HOLD,
    OPTED_OUT,
    SEND,
    SUPPRESS,
    WINDOW_CLOSED,
    Verdict,
    next_send_time,
    retry_after,
    sending_verdict,
)

DAY0 = dt.date(2012, 3, 1)
HOURS = ("08:00", "21:00")  # the shipped playbook's sending hours (quiet 21:00–08:00)


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return clock.at_local(DAY0 + dt.timedelta(days=day), hour, minute, second)


def verdict(
    when: dt.datetime,
    *,
    scheduled_at: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    marketing: bool = False,
    opted_out: bool = False,
    sent_today: int = 0,
    daily_limit: int | None = 2,
    sending_hours: tuple[str, str] = HOURS,
) -> Verdict:
    """A service message queued at 09:00 on day 0 with the plan's day 0–3 window, unless told otherwise."""
    return sending_verdict(
        at=when,
        scheduled_at=scheduled_at or at(0, 9),
        not_after=not_after or clock.end_of_day(DAY0 + dt.timedelta(days=3)),
        marketing=marketing,
        opted_out=opted_out,
        sent_today=sent_today,
        daily_limit=daily_limit,
        sending_hours=sending_hours,
    )


# -- the sending hours ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (at(1, 7, 59, 59), Verdict(HOLD, until=at(1, 8), reason="sending_hours")),
        (at(1, 8), Verdict(SEND)),
        (at(1, 8, 0, 1), Verdict(SEND)),
        (at(1, 20, 59, 59), Verdict(SEND)),
        (at(1, 21), Verdict(HOLD, until=at(2, 8), reason="sending_hours")),  # the end is exclusive
        (at(1, 23, 59, 59), Verdict(HOLD, until=at(2, 8), reason="sending_hours")),
        (at(2, 0), Verdict(HOLD, until=at(2, 8), reason="sending_hours")),
        (at(2, 3, 30), Verdict(HOLD, until=at(2, 8), reason="sending_hours")),
    ],
)
def test_the_sending_hours_are_0800_to_2100_shanghai_time_end_excluded(when, expected):
    assert verdict(when) == expected


def test_the_sending_hours_are_read_in_shanghai_whatever_the_clocks_zone():
    utc = dt.UTC
    # 00:30 UTC is 08:30 in Shanghai; 12:59:59 UTC is 20:59:59; 13:00 UTC is 21:00.
    assert verdict(dt.datetime(2012, 3, 2, 0, 30, tzinfo=utc)).action == SEND
    assert verdict(dt.datetime(2012, 3, 2, 12, 59, 59, tzinfo=utc)).action == SEND
    night = verdict(dt.datetime(2012, 3, 2, 13, 0, tzinfo=utc))
    assert night == Verdict(HOLD, until=at(2, 8), reason="sending_hours")
    # 23:59 UTC on March 1st is already 07:59 on March 2nd in Shanghai: held one minute, not a day.
    assert verdict(dt.datetime(2012, 3, 1, 23, 59, tzinfo=utc)).until == at(1, 8)


def test_other_sending_hours_are_obeyed_to_the_second():
    hours = ("09:30", "18:15")
    assert verdict(at(1, 9, 29, 59), sending_hours=hours) == Verdict(HOLD, until=at(1, 9, 30), reason="sending_hours")
    assert verdict(at(1, 9, 30), sending_hours=hours).action == SEND
    assert verdict(at(1, 18, 14, 59), sending_hours=hours).action == SEND
    assert verdict(at(1, 18, 15), sending_hours=hours).until == at(2, 9, 30)


def test_next_send_time_is_the_instant_itself_inside_the_hours_and_the_next_opening_outside():
    assert next_send_time(at(0, 12, 34, 56), *HOURS) == at(0, 12, 34, 56)
    assert next_send_time(at(0, 7, 0), *HOURS) == at(0, 8)
    assert next_send_time(at(0, 21, 0), *HOURS) == at(1, 8)
    assert next_send_time(at(0, 0, 0), *HOURS) == at(0, 8)


# -- the message's own time: scheduled_at and not_after ---------------------------------------------------------


def test_a_message_scheduled_later_in_the_day_is_held_until_then():
    assert verdict(at(0, 15), scheduled_at=at(0, 16)) == Verdict(HOLD, until=at(0, 16), reason="scheduled")
    assert verdict(at(0, 16), scheduled_at=at(0, 16)).action == SEND


def test_a_message_scheduled_for_the_night_is_held_to_the_next_opening_not_to_its_schedule():
    assert verdict(at(0, 15), scheduled_at=at(0, 22)) == Verdict(HOLD, until=at(1, 8), reason="sending_hours")
    # Scheduled for tomorrow's opening itself (a later day of its window, `sms.send_day`).
    assert verdict(at(0, 15), scheduled_at=at(1, 8)) == Verdict(HOLD, until=at(1, 8), reason="scheduled")


def test_the_windows_last_second_may_still_send_and_the_next_one_may_not():
    last = at(0, 17, 0, 0)
    assert verdict(last, not_after=last).action == SEND
    assert verdict(last + dt.timedelta(seconds=1), not_after=last) == Verdict(SUPPRESS, reason=WINDOW_CLOSED)
    assert verdict(last + dt.timedelta(microseconds=1), not_after=last).action == SUPPRESS


def test_a_window_that_closes_before_the_next_opening_is_suppressed_not_held():
    # The plan's window ends at 23:59:59 on day 3: at 21:00 on day 3 the next opening (08:00 day 4) is too late.
    end = clock.end_of_day(DAY0 + dt.timedelta(days=3))
    assert verdict(at(3, 21), not_after=end) == Verdict(SUPPRESS, reason=WINDOW_CLOSED)
    assert verdict(at(3, 20, 59, 59), not_after=end).action == SEND
    # A window closing at 08:00 sharp still has that opening; one closing at 07:59:59 does not.
    assert verdict(at(1, 6), not_after=at(1, 8)) == Verdict(HOLD, until=at(1, 8), reason="sending_hours")
    assert verdict(at(1, 6), not_after=at(1, 7, 59, 59)) == Verdict(SUPPRESS, reason=WINDOW_CLOSED)


def test_a_message_scheduled_after_its_own_window_closes_is_suppressed():
    assert verdict(at(0, 10), scheduled_at=at(0, 12), not_after=at(0, 11)) == Verdict(SUPPRESS, reason=WINDOW_CLOSED)


# -- marketing and the opt-out ------------------------------------------------------------------------------


@pytest.mark.parametrize("when", [at(1, 10), at(1, 22), at(1, 5)])
def test_marketing_to_an_opted_out_customer_is_suppressed_at_any_hour_service_still_goes(when):
    assert verdict(when, marketing=True, opted_out=True) == Verdict(SUPPRESS, reason=OPTED_OUT)
    service = verdict(when, marketing=False, opted_out=True)
    marketing_to_subscriber = verdict(when, marketing=True, opted_out=False)
    assert service == marketing_to_subscriber == verdict(when)  # the opt-out touches marketing only
    assert service.action in (SEND, HOLD)


# -- the daily cap -------------------------------------------------------------------------------------------


def test_the_daily_cap_holds_the_message_to_tomorrows_opening():
    assert verdict(at(1, 10), sent_today=1, daily_limit=2).action == SEND
    assert verdict(at(1, 10), sent_today=2, daily_limit=2) == Verdict(HOLD, until=at(2, 8), reason=DAILY_LIMIT)
    assert verdict(at(1, 20, 59, 59), sent_today=5, daily_limit=2).until == at(2, 8)


def test_the_daily_cap_suppresses_when_the_window_ends_before_tomorrows_opening():
    assert verdict(at(3, 10), sent_today=2, daily_limit=2) == Verdict(SUPPRESS, reason=DAILY_LIMIT)
    assert verdict(at(1, 10), sent_today=2, not_after=at(2, 7, 59, 59)) == Verdict(SUPPRESS, reason=DAILY_LIMIT)
    # A window that ends at tomorrow's opening sharp still gets it.
    assert verdict(at(1, 10), sent_today=2, not_after=at(2, 8)) == Verdict(HOLD, until=at(2, 8), reason=DAILY_LIMIT)


@pytest.mark.parametrize("limit", [None, 0])
def test_no_daily_limit_means_no_cap(limit):
    assert verdict(at(1, 10), sent_today=50, daily_limit=limit).action == SEND


def test_the_daily_cap_opens_on_the_next_shanghai_day_with_other_sending_hours():
    hours = ("10:00", "12:00")
    assert verdict(at(1, 11), sent_today=1, daily_limit=1, sending_hours=hours) == Verdict(
        HOLD, until=at(2, 10), reason=DAILY_LIMIT
    )


# -- the order the rules apply in ------------------------------------------------------------------------------


def test_a_closed_window_wins_over_the_opt_out():
    late = verdict(at(1, 10), not_after=at(1, 9), marketing=True, opted_out=True)
    assert late == Verdict(SUPPRESS, reason=WINDOW_CLOSED)


def test_the_opt_out_wins_over_quiet_hours_a_later_schedule_and_the_cap():
    for when in (at(1, 22), at(1, 7)):
        assert verdict(when, marketing=True, opted_out=True).reason == OPTED_OUT
    assert verdict(at(0, 10), scheduled_at=at(0, 16), marketing=True, opted_out=True).reason == OPTED_OUT
    assert verdict(at(1, 10), sent_today=9, marketing=True, opted_out=True).reason == OPTED_OUT


def test_quiet_hours_win_over_the_cap_a_night_is_a_night_whatever_was_sent_that_day():
    # At 22:00 with the day's cap reached the message waits for 08:00, when it is a new day with nothing sent.
    assert verdict(at(1, 22), sent_today=2) == Verdict(HOLD, until=at(2, 8), reason="sending_hours")
    # On the window's last evening the night is what closes it, not the cap.
    assert verdict(at(3, 22), sent_today=2) == Verdict(SUPPRESS, reason=WINDOW_CLOSED)


def test_a_later_schedule_wins_over_the_cap():
    assert verdict(at(1, 10), scheduled_at=at(1, 15), sent_today=2) == Verdict(HOLD, until=at(1, 15), reason="scheduled")


# -- retries ---------------------------------------------------------------------------------------------------


def test_a_refused_send_is_retried_after_1_4_16_minutes_then_hourly():
    minutes = [retry_after(n) / dt.timedelta(minutes=1) for n in range(0, 8)]
    assert minutes == [1, 1, 4, 16, 60, 60, 60, 60]


# -- the property ----------------------------------------------------------------------------------------------

START = clock.at_local(DAY0)
SPAN = 6 * 24 * 3600  # six days, in seconds


def instants(lo: int = 0, hi: int = SPAN):
    """Instants within six days from day 0's midnight, to the second, read in Shanghai or in UTC."""
    return st.builds(
        lambda seconds, utc: (START + dt.timedelta(seconds=seconds)).astimezone(dt.UTC if utc else clock.OPERATOR_TZ),
        st.integers(lo, hi),
        st.booleans(),
    )


@st.composite
def sending_hours(draw):
    """The default hours most of the time, else any opening and closing with the opening first."""
    if draw(st.booleans()):
        return HOURS
    opens = draw(st.integers(0, 23 * 60 + 58))
    closes = draw(st.integers(opens + 1, 23 * 60 + 59))
    return (f"{opens // 60:02d}:{opens % 60:02d}", f"{closes // 60:02d}:{closes % 60:02d}")


def inside(instant: dt.datetime, hours: tuple[str, str]) -> bool:
    local = instant.astimezone(clock.OPERATOR_TZ).time()
    return policy._hhmm(hours[0]) <= local < policy._hhmm(hours[1])


@hsettings(max_examples=600, deadline=None)
@given(
    when=instants(),
    scheduled_at=instants(),
    window=st.integers(-3600, 5 * 24 * 3600),
    marketing=st.booleans(),
    opted_out=st.booleans(),
    sent_today=st.integers(0, 4),
    daily_limit=st.sampled_from([None, 1, 2, 3]),
    hours=sending_hours(),
)
def test_no_verdict_lets_a_message_out_at_night_late_early_unwanted_or_over_the_cap(
    when, scheduled_at, window, marketing, opted_out, sent_today, daily_limit, hours
):
    not_after = scheduled_at + dt.timedelta(seconds=window)
    args = dict(
        scheduled_at=scheduled_at, not_after=not_after, marketing=marketing, opted_out=opted_out,
        daily_limit=daily_limit, sending_hours=hours,
    )
    answer = sending_verdict(at=when, sent_today=sent_today, **args)

    assert answer.action in (SEND, HOLD, SUPPRESS)
    if answer.action == SEND:
        assert inside(when, hours), "sent in quiet hours"
        assert scheduled_at <= when <= not_after, "sent outside its window"
        assert not (marketing and opted_out), "marketing sent to an opted-out customer"
        assert not daily_limit or sent_today < daily_limit, "sent over the daily cap"
        assert answer.until is None and answer.reason == ""
    elif answer.action == HOLD:
        assert answer.until is not None and answer.until > when
        assert inside(answer.until, hours), "held to an instant in quiet hours"
        assert answer.until <= not_after, "held past its window instead of suppressed"
        assert answer.until >= scheduled_at
        assert not (marketing and opted_out)
        assert answer.reason in ("sending_hours", "scheduled", DAILY_LIMIT)
        # Honest: asked again at `until` (a new day starts with nothing sent), the message may leave, unless the
        # same day's cap still stands.
        new_day = clock.local_date(answer.until) != clock.local_date(when)
        again = sending_verdict(at=answer.until, sent_today=0 if new_day else sent_today, **args)
        capped = bool(daily_limit) and not new_day and sent_today >= daily_limit
        assert again.action == SEND or (capped and again.reason == DAILY_LIMIT), (answer, again)
    else:
        assert answer.reason in (WINDOW_CLOSED, OPTED_OUT, DAILY_LIMIT)
        assert answer.until is None
        if answer.reason == OPTED_OUT:
            assert marketing and opted_out
        if answer.reason == DAILY_LIMIT:
            assert daily_limit and sent_today >= daily_limit
        # Nothing suppressed could have gone out later: every instant from now to not_after is refused too.
        if answer.reason == WINDOW_CLOSED and when <= not_after and not (marketing and opted_out):
            assert next_send_time(max(when, scheduled_at), *hours) > not_after


@hsettings(max_examples=300, deadline=None)
@given(when=instants(), hours=sending_hours())
def test_next_send_time_is_the_first_instant_inside_the_sending_hours(when, hours):
    opening = next_send_time(when, *hours)
    assert opening >= when and inside(opening, hours)
    if opening > when:  # every whole minute between was outside the hours
        step = when.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        while step < opening:
            assert not inside(step, hours), step
            step += dt.timedelta(minutes=1)


# -- sending hours the policy cannot apply are refused at publishing ---------------------------------------------


def test_the_shipped_sending_hours_pass_the_publishing_check():
    from onboard90.playbook import content
    from onboard90.playbook.services import default_document

    playbook, _warnings = content.validate_document(default_document())
    assert (playbook.quiet_hours.start, playbook.quiet_hours.end) == HOURS


@pytest.mark.parametrize(
    "hours", [("08:00", "24:00"), ("22:00", "07:00"), ("08:00", "08:00"), ("99:00", "21:00")],
    ids=["ends-24h", "inverted", "empty", "not-a-time"],
)
def test_sending_hours_the_policy_cannot_apply_are_refused_at_publishing(hours):
    from onboard90.playbook import content, schema
    from onboard90.playbook.services import default_document

    document = default_document()
    document["quiet_hours"] = {"start": hours[0], "end": hours[1]}
    with pytest.raises(schema.PlaybookError):
        content.validate_document(document)
