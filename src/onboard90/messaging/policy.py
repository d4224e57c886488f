"""The sending policy (发送规范): the one rule every message passes right before it would leave.

Plain Python over plain values, so a property test can throw any sequence of clock times, replies and gateway
failures at it. The dispatcher asks it for each message with the clock read at that instant; the message
leaves only on SEND. Every other answer is recorded on the message with its reason and counted in the reports:

- the message's window has closed (`not_after`): never sent late — suppressed, `sms_window_closed`;
- a marketing message to a customer who opted out (replied TD/退订, or was imported opted out): suppressed,
  `opted_out` — service notices still go;
- the sending hours (default 08:00–21:00 Asia/Shanghai, the playbook's `quiet_hours`): held to the next
  opening, or suppressed `sms_window_closed` if the window closes first;
- not yet its time (`scheduled_at`, a later day of its window, a retry's backoff): held;
- the per-customer daily cap (the playbook's `sms_daily_limit`): held to the next day's opening, or
  suppressed `sms_daily_limit` if the window closes first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from onboard90.core import clock

SEND, HOLD, SUPPRESS = "send", "hold", "suppress"

# Reasons, as recorded on a message (`last_error`) and on the act it could not deliver.
WINDOW_CLOSED = "sms_window_closed"
OPTED_OUT = "opted_out"
DAILY_LIMIT = "sms_daily_limit"
GATEWAY_REFUSED = "sms_failed"
NO_REPORT = "sms_unconfirmed"


@dataclass(frozen=True)
class Verdict:
    action: str  # SEND, HOLD or SUPPRESS
    until: dt.datetime | None = None  # HOLD: not before this instant
    reason: str = ""  # HOLD / SUPPRESS: why


def _hhmm(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def next_send_time(instant: dt.datetime, opens: str, closes: str) -> dt.datetime:
    """The first instant at or after `instant` inside the sending hours [opens, closes) (local time)."""
    local = instant.astimezone(clock.OPERATOR_TZ)
    start, end = _hhmm(opens), _hhmm(closes)
    if local.time() < start:
        return clock.at_local(local.date(), start.hour, start.minute)
    if local.time() >= end:
        return clock.at_local(local.date() + dt.timedelta(days=1), start.hour, start.minute)
    return instant


def sending_verdict(
    *,
    at: dt.datetime,
    scheduled_at: dt.datetime,
    not_after: dt.datetime,
    marketing: bool,
    opted_out: bool,
    sent_today: int,
    daily_limit: int | None,
    sending_hours: tuple[str, str],
) -> Verdict:
    """May this message leave at `at`? See the module's docstring for the rules, in the order they apply."""
    if at > not_after:
        return Verdict(SUPPRESS, reason=WINDOW_CLOSED)
    if marketing and opted_out:
        return Verdict(SUPPRESS, reason=OPTED_OUT)
    opening = next_send_time(max(at, scheduled_at), *sending_hours)
    if opening > at:
        if opening > not_after:
            return Verdict(SUPPRESS, reason=WINDOW_CLOSED)
        return Verdict(HOLD, until=opening, reason="sending_hours" if opening != scheduled_at else "scheduled")
    if daily_limit and sent_today >= daily_limit:
        tomorrow = next_send_time(clock.at_local(clock.local_date(at) + dt.timedelta(days=1)), *sending_hours)
        if tomorrow > not_after:
            return Verdict(SUPPRESS, reason=DAILY_LIMIT)
        return Verdict(HOLD, until=tomorrow, reason=DAILY_LIMIT)
    return Verdict(SEND)


def retry_after(attempts: int) -> dt.timedelta:
    """How long a message waits after its `attempts`-th send the gateway certainly did not take (refused
    connection, 5xx): 1, 4, 16 minutes, then an hour."""
    return dt.timedelta(minutes=min(4 ** max(attempts - 1, 0), 60))
