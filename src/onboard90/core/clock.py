"""Operator time: Asia/Shanghai local dates and the explicit as-of instants the engine runs at.

Nothing in the engine reads the wall clock; callers pass `as_of`. Only the CLI's defaults and the records'
own stamps (`updated_at`, a cycle's start) call `now()`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from django.conf import settings

from onboard90.core.operator_time import OPERATOR_TZ


class SimulatedClock:
    """The wall clock of a history simulated day by day: it reads whatever instant the simulation sets."""

    def __init__(self, at: dt.datetime):
        self.at = at


_simulation: SimulatedClock | None = None


def now() -> dt.datetime:
    if _simulation is not None:
        return _simulation.at.astimezone(OPERATOR_TZ)
    return dt.datetime.now(tz=OPERATOR_TZ)


class SimulationRefused(RuntimeError):
    """A simulated clock asked of a database that holds real data (not marked scratch)."""


@contextlib.contextmanager
def simulated(at: dt.datetime) -> Iterator[SimulatedClock]:
    """Run a history (the demo's 120 past days, the bench's consecutive days) with the wall clock at its
    business time: every record is then stamped when it would have been written, and each cycle sees, as
    in production, only the day's changes as changed since the one before (`journeys.changes.Since`).
    The records' own stamps (`core.fields.RecordedAt`) read `now()`, so they follow it; nothing in Django is
    patched. One simulation at a time, set from one thread (the cycle's side-by-side connections only read it).

    Only a scratch database accepts it (`core.models.ScratchDatabase`): on an operator's database the
    clock is the real one, so no figure can be produced ahead of time.
    """
    from onboard90.core.models import ScratchDatabase  # models import this module: not at its top

    global _simulation
    if _simulation is not None:
        raise RuntimeError("a simulated clock is already running")
    if not ScratchDatabase.objects.exists():
        raise SimulationRefused(
            "模拟时钟只能用于演练库（onboard90 init --scratch、演示或基准测试建的库）/ a simulated clock is accepted "
            "only by a scratch database (made by `onboard90 init --scratch`, the demo or the bench), not by "
            "one holding an operator's data"
        )
    sim = SimulatedClock(at)
    _simulation = sim
    try:
        yield sim
    finally:
        _simulation = None


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
