"""Quiet hours and windows by the real clock: what may leave is decided by the instant it leaves.

The cycle of a day runs "as of" 09:00, but its dispatch may run at any hour, and a round of sends takes
time. Each test drives the dispatcher's clock (`now=`) and checks what the gateway saw and what the
outbox recorded.
"""

from __future__ import annotations

import datetime as dt

import pytest

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.journeys import cycle
from onboard90.journeys.enums import ActionStatus
from onboard90.journeys.models import JourneyAction, Task
from onboard90.messaging.enums import MessageStatus
from onboard90.messaging.gateways import MemoryGateway
from onboard90.messaging.models import OutboxMessage
from onboard90.messaging.services import outbox_dispatch
from onboard90.messaging.tests.conftest import DAY0
from onboard90.messaging.tests.test_dispatch import CrashingGateway

pytestmark = pytest.mark.django_db

AS_OF = clock.cycle_instant(DAY0)  # 09:00 of day 0, the instant the day's cycle is stamped with
PLAN_HOURS = ("08:00", "21:00")  # the shipped playbook's sending hours (playbook/data/default.yaml)
UNTIL_22 = ("08:00", "22:00")  # a playbook that sends until 22:00


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return clock.at_local(DAY0 + dt.timedelta(days=day), hour, minute, second)


def stands_at(instant: dt.datetime):
    """A clock that does not move during the dispatch."""
    return lambda: instant


class SendingTakesASecond(MemoryGateway):
    """A gateway that takes one second per message, on the clock it shares with the dispatcher."""

    def __init__(self, start: dt.datetime):
        super().__init__()
        self.at = start
        self.instants: dict[int, dt.datetime] = {}

    def now(self) -> dt.datetime:
        return self.at

    def send(self, *, msisdn, text, message_id):
        self.instants[message_id] = self.at
        result = super().send(msisdn=msisdn, text=text, message_id=message_id)
        self.at += dt.timedelta(seconds=1)
        return result


class Ticking:
    """A clock that moves on by a second every time anyone reads it."""

    def __init__(self, start: dt.datetime):
        self.at = start
        self.readings: list[dt.datetime] = []

    def __call__(self) -> dt.datetime:
        reading = self.at
        self.readings.append(reading)
        self.at += dt.timedelta(seconds=1)
        return reading


class CrossesAfterTheClaim:
    """Reads `before` until the dispatcher has claimed a round (messages `sending`), `after` from then on."""

    def __init__(self, before: dt.datetime, after: dt.datetime):
        self.before, self.after = before, after

    def __call__(self) -> dt.datetime:
        claimed = OutboxMessage.objects.filter(status=MessageStatus.SENDING).exists()
        return self.after if claimed else self.before


def statuses() -> dict[str, int]:
    counted: dict[str, int] = {}
    for status in OutboxMessage.objects.values_list("status", flat=True):
        counted[status] = counted.get(status, 0) + 1
    return counted


def sms_only(messages):
    """The messages among `messages` whose act is delivered by SMS alone (no staff task to close it)."""
    with_task = set(Task.objects.values_list("action_id", flat=True))
    return [m for m in messages if m.action_id not in with_task]


def assert_sent_once_each(gateway: MemoryGateway, total: int) -> None:
    assert len(gateway.sent) == len(set(gateway.sent)) == total  # nobody got a message twice
    assert OutboxMessage.objects.filter(status=MessageStatus.SENT).count() == total
    assert set(OutboxMessage.objects.values_list("attempts", flat=True)) == {1}


def test_the_days_cycle_dispatched_at_2159_sends_nothing_though_it_is_stamped_0900(queued):
    gateway = MemoryGateway()
    result = outbox_dispatch(as_of=AS_OF, quiet_hours=PLAN_HOURS, gateway=gateway, now=stands_at(at(0, 21, 59)))

    assert result["sms_sent"] == 0 and gateway.sent == []
    assert statuses() == {MessageStatus.QUEUED: queued}  # waiting for the morning, not missed
    assert set(OutboxMessage.objects.values_list("attempts", flat=True)) == {0}


def test_message_due_at_2159_does_not_leave_when_the_clock_reaches_2200(queued):
    gateway = SendingTakesASecond(start=at(0, 21, 59, 58))
    result = outbox_dispatch(as_of=AS_OF, quiet_hours=UNTIL_22, gateway=gateway, now=gateway.now)

    # 21:59:58 and 21:59:59 go out; at 22:00:00 the sending hours are over (their end is exclusive).
    assert result["sms_sent"] == 2 == len(gateway.sent)
    assert sorted(gateway.instants.values()) == [at(0, 21, 59, 58), at(0, 21, 59, 59)]
    assert statuses() == {MessageStatus.SENT: 2, MessageStatus.QUEUED: queued - 2}
    # The rest of the round was claimed and handed back: queued again, the attempt it never made uncounted.
    held = OutboxMessage.objects.filter(status=MessageStatus.QUEUED)
    assert set(held.values_list("attempts", flat=True)) == {0}
    assert set(held.values_list("gateway", flat=True)) == {gateway.name}  # the claim's mark: they were in the round

    morning = MemoryGateway()
    outbox_dispatch(as_of=AS_OF, quiet_hours=UNTIL_22, gateway=morning, now=stands_at(at(1, 8)))
    assert set(morning.sent).isdisjoint(gateway.sent)
    assert len(morning.sent) == queued - 2
    assert OutboxMessage.objects.filter(status=MessageStatus.SENT).count() == queued
    assert set(OutboxMessage.objects.values_list("attempts", flat=True)) == {1}


def test_a_round_claimed_at_21_59_59_sends_nothing_once_the_clock_reads_2200(queued):
    gateway = MemoryGateway()
    crossing = CrossesAfterTheClaim(before=at(0, 21, 59, 59), after=at(0, 22))
    result = outbox_dispatch(as_of=AS_OF, quiet_hours=UNTIL_22, gateway=gateway, now=crossing)

    assert result["sms_sent"] == 0 and gateway.sent == []
    assert statuses() == {MessageStatus.QUEUED: queued}  # none lost in `sending`, none sent
    assert set(OutboxMessage.objects.values_list("attempts", flat=True)) == {0}
    assert set(OutboxMessage.objects.values_list("gateway", flat=True)) == {gateway.name}  # all were claimed

    outbox_dispatch(as_of=AS_OF, quiet_hours=UNTIL_22, gateway=gateway, now=stands_at(at(1, 8)))
    assert_sent_once_each(gateway, queued)


def test_a_clock_read_at_every_step_never_lets_a_message_leave_at_2200_or_later(queued):
    gateway = MemoryGateway()
    ticking = Ticking(start=at(0, 21, 59, 50))
    outbox_dispatch(as_of=AS_OF, quiet_hours=UNTIL_22, gateway=gateway, now=ticking)

    sent = OutboxMessage.objects.filter(status=MessageStatus.SENT)
    held = OutboxMessage.objects.filter(status=MessageStatus.QUEUED)
    assert sent.exists() and held.exists()  # the round really was cut by 22:00
    assert sent.count() + held.count() == queued == OutboxMessage.objects.count()
    assert all(m.sent_at < at(0, 22) for m in sent)
    assert all(m.sent_at in ticking.readings for m in sent)  # each one's own instant, read before it left
    assert len({m.sent_at for m in sent}) == sent.count()
    assert set(sent.values_list("attempts", flat=True)) == {1}
    assert set(held.values_list("attempts", flat=True)) == {0}
    assert len(gateway.sent) == sent.count()


def test_at_0759_nothing_leaves_and_at_0800_the_night_queue_does(queue_at):
    queued = queue_at(at(0, 22))  # a cycle run at 22:00 queues for the next morning
    assert set(OutboxMessage.objects.values_list("scheduled_at", flat=True)) == {at(1, 8)}
    gateway = MemoryGateway()

    for instant in (at(0, 22), at(0, 23, 30), at(1, 7, 59), at(1, 7, 59, 59)):
        outbox_dispatch(as_of=at(0, 22), quiet_hours=PLAN_HOURS, gateway=gateway, now=stands_at(instant))
        assert gateway.sent == [], instant
        assert statuses() == {MessageStatus.QUEUED: queued}, instant

    result = outbox_dispatch(as_of=at(0, 22), quiet_hours=PLAN_HOURS, gateway=gateway, now=stands_at(at(1, 8)))
    assert result["sms_sent"] == queued
    assert_sent_once_each(gateway, queued)
    assert set(OutboxMessage.objects.values_list("sent_at", flat=True)) == {at(1, 8)}


def test_a_message_whose_window_closes_during_quiet_hours_is_recorded_missed_and_never_sent(queued):
    # The dispatcher was down until the evening of day 3; the day-0 windows end at 23:59:59 on day 3.
    assert set(OutboxMessage.objects.values_list("not_after", flat=True)) == {clock.end_of_day(DAY0 + dt.timedelta(3))}
    gateway = MemoryGateway()
    outbox_dispatch(as_of=at(3, 9), quiet_hours=PLAN_HOURS, gateway=gateway, now=stands_at(at(3, 21, 30)))
    assert statuses() == {MessageStatus.QUEUED: queued}  # still in its window: it waits

    result = outbox_dispatch(as_of=at(4, 9), quiet_hours=PLAN_HOURS, gateway=gateway, now=stands_at(at(4, 8)))
    assert gateway.sent == []
    assert result["sms_missed"] == queued
    assert statuses() == {MessageStatus.MISSED: queued}
    alone = sms_only(OutboxMessage.objects.all())
    assert alone  # channels, billing and data-usage notices: SMS is their only delivery
    for message in alone:
        act = JourneyAction.objects.get(pk=message.action_id)
        assert (act.status, act.reason, act.closed_at) == (ActionStatus.MISSED, "sms_window_closed", at(4, 8))
    with_task = OutboxMessage.objects.exclude(pk__in=[m.pk for m in alone])
    # An act also delivered by staff stays open for them: their task decides it.
    assert not JourneyAction.objects.filter(pk__in=with_task.values("action_id"), status=ActionStatus.MISSED).exists()


def test_a_message_whose_window_closes_while_its_round_is_sending_is_recorded_missed_not_sent(queued):
    OutboxMessage.objects.update(not_after=at(0, 10))  # windows that end at 10:00:00 sharp
    gateway = SendingTakesASecond(start=at(0, 9, 59, 58))
    result = outbox_dispatch(as_of=AS_OF, quiet_hours=PLAN_HOURS, gateway=gateway, now=gateway.now)

    # 09:59:58, 09:59:59 and 10:00:00 are inside the windows (not_after is the last instant allowed).
    assert sorted(gateway.instants.values()) == [at(0, 9, 59, 58), at(0, 9, 59, 59), at(0, 10)]
    assert result["sms_sent"] == 3 and result["sms_missed"] == queued - 3
    assert statuses() == {MessageStatus.SENT: 3, MessageStatus.MISSED: queued - 3}
    missed = list(OutboxMessage.objects.filter(status=MessageStatus.MISSED))
    assert {m.pk for m in missed}.isdisjoint(gateway.instants)
    assert {m.attempts for m in missed} == {0}
    for message in sms_only(missed):
        act = JourneyAction.objects.get(pk=message.action_id)
        assert (act.status, act.reason) == (ActionStatus.MISSED, "sms_window_closed")


def test_sent_at_and_the_acts_closing_are_the_real_instant_not_the_cycles_as_of(queued):
    real = at(0, 15, 42, 17)
    outbox_dispatch(as_of=AS_OF, quiet_hours=PLAN_HOURS, gateway=MemoryGateway(), now=stands_at(real))

    assert set(OutboxMessage.objects.values_list("sent_at", flat=True)) == {real}
    alone = sms_only(OutboxMessage.objects.all())
    acts = JourneyAction.objects.filter(pk__in=[m.action_id for m in alone])
    assert acts.exists()
    assert set(acts.values_list("status", "closed_at")) == {(ActionStatus.DONE, real)}


def test_a_message_scheduled_for_1600_waits_for_the_clock_not_for_the_cycles_as_of(queued):
    later = OutboxMessage.objects.order_by("pk").first()
    OutboxMessage.objects.filter(pk=later.pk).update(scheduled_at=at(0, 16))
    gateway = MemoryGateway()

    outbox_dispatch(as_of=at(0, 18), quiet_hours=PLAN_HOURS, gateway=gateway, now=stands_at(at(0, 15, 59, 59)))
    later.refresh_from_db()
    assert later.status == MessageStatus.QUEUED and len(gateway.sent) == queued - 1

    outbox_dispatch(as_of=at(0, 18), quiet_hours=PLAN_HOURS, gateway=gateway, now=stands_at(at(0, 16)))
    later.refresh_from_db()
    assert (later.status, later.sent_at) == (MessageStatus.SENT, at(0, 16))
    assert_sent_once_each(gateway, queued)


def test_an_interrupted_round_settled_at_night_records_what_left_and_keeps_the_rest_for_the_morning(queued):
    gateway = CrashingGateway(survive=3)
    with pytest.raises(SystemExit):
        outbox_dispatch(as_of=AS_OF, quiet_hours=PLAN_HOURS, gateway=gateway, now=stands_at(at(0, 20, 59)))
    gone = set(gateway.ids)
    gateway.survive = 10**6

    outbox_dispatch(as_of=AS_OF, quiet_hours=PLAN_HOURS, gateway=gateway, now=stands_at(at(0, 21, 5)))
    assert len(gateway.sent) == 3  # nothing more left at night
    recovered = OutboxMessage.objects.filter(status=MessageStatus.SENT)
    assert set(recovered.values_list("pk", flat=True)) == gone
    # Stamped when the rerun learnt of them: the crashed run's own instant is lost, and as_of (09:00)
    # would date them before they left.
    assert set(recovered.values_list("sent_at", flat=True)) == {at(0, 21, 5)}
    held = OutboxMessage.objects.filter(status=MessageStatus.QUEUED)
    assert held.count() == queued - 3 and set(held.values_list("attempts", flat=True)) == {0}

    outbox_dispatch(as_of=AS_OF, quiet_hours=PLAN_HOURS, gateway=gateway, now=stands_at(at(1, 8)))
    assert_sent_once_each(gateway, queued)


def test_the_daily_cycle_dispatches_by_the_simulated_clock_of_a_scratch_history(queued):
    """The demo's and the bench's history: `cycle_run` calls the dispatcher without a clock, and the
    default one follows the simulated wall clock."""
    builders.scratch_database()
    gateway = MemoryGateway()
    with clock.simulated(at(0, 9)) as wall:
        wall.at = at(0, 10, 30)
        cycle.cycle_run(as_of=AS_OF, gateway=gateway)

    assert_sent_once_each(gateway, queued)
    assert set(OutboxMessage.objects.values_list("sent_at", flat=True)) == {at(0, 10, 30)}


def test_a_catch_up_cycle_for_a_day_long_past_sends_nothing_its_windows_closed_long_ago(queued):
    """On the real clock a cycle for a day of 2012 is a catch-up run: its SMS would arrive years late."""
    gateway = MemoryGateway()
    cycle.cycle_run(as_of=AS_OF, gateway=gateway)

    assert gateway.sent == []
    assert statuses() == {MessageStatus.MISSED: queued}
