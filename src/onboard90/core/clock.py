"""Operator time: Asia/Shanghai local dates and the explicit as-of instants the engine runs at.

Nothing in the engine reads the wall clock; callers pass `as_of`. Only the CLI's defaults call `now()`.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

OPERATOR_TZ = ZoneInfo("Asia/Shanghai")


def now() -> dt.datetime:
    return dt.datetime.now(tz=OPERATOR_TZ)


def today() -> dt.date:
    return now().date()


def local_date(instant: dt.datetime) -> dt.date:
    """The operator's calendar date of an instant (day 0 is the local activation date)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=OPERATOR_TZ)
    return instant.astimezone(OPERATOR_TZ).date()


def at_local(day: dt.date, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=OPERATOR_TZ)


def end_of_day(day: dt.date) -> dt.datetime:
    """The last second of a local day: a window ending on `day` is due by this instant."""
    return at_local(day, 23, 59, 59)


def cycle_instant(day: dt.date) -> dt.datetime:
    """The instant a daily cycle 'as of `day`' runs at (settings.ONBOARD90['CYCLE_HOUR'] local)."""
    from django.conf import settings

    return at_local(day, settings.ONBOARD90["CYCLE_HOUR"])


def parse_instant(text: str) -> dt.datetime:
    """ISO date or date-time; a value without an offset is Asia/Shanghai local time."""
    text = text.strip()
    if not text:
        raise ValueError("empty date/time")
    try:
        value = dt.datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        raise ValueError(f"not a date/time: {text!r} (expected YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS])") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=OPERATOR_TZ)
    return value


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not a date: {text!r} (expected YYYY-MM-DD)") from None
