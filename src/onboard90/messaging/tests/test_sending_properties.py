"""The sending policy as the dispatcher applies it, under random histories (hypothesis, rule-based).

Real messages are queued once by the daily cycle (a playbook whose notices are part service, part marketing,
for new, VIP, late-loaded and imported-opted-out customers). Each example then runs its own history over them,
inside a savepoint rolled back at its end: the clock steps on by minutes to a day (into the night too),
the outbox-dispatch job runs on a clock that ticks while it works, customers reply TD (the update a reply
makes), the gateway's answer for a number changes (refused for now, refused for good, a timeout that took
the message, Kannel's "queued", back to accepted), and a dispatcher dies in the middle of a round.

Every hand-over to the gateway is recorded with the dispatcher's instant, and after every step:

- no message is handed over again once the gateway may have it (accepted, queued, or a timeout);
- nothing is handed over at night (the playbook's 08:00–21:00 Asia/Shanghai), after its `not_after`, before
  its `scheduled_at` (its backoff and daily-cap hold included), or as marketing after its customer opted out;
- no customer is handed more than the playbook's daily cap of messages they may have got (accepted, queued or
  timed out) on one local day.

And at the end, after a day of hourly dispatches through a healthy gateway, every message is settled: sent
(handed over exactly once), failed with a reason (refused for good, retried to the limit, or a timeout
without a delivery report, after RECONCILE), missed with its reason, or still queued only while its window is
open and its time has not come — none lost, none left `sending`, none the customer got recorded otherwise.
"""

from __future__ import annotations

import collections
import datetime as dt
import sys
from dataclasses import dataclass

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.customers.models import Customer
from onboard90.journeys import cycle
from onboard90.messaging import policy
from onboard90.messaging.enums import MessageClass, MessageStatus
from onboard90.messaging.gateways import PERMANENT, QUEUED, SENT, TRANSIENT, UNKNOWN, MemoryGateway
from onboard90.messaging.models import OutboxMessage
from onboard90.messaging.services import MAX_SEND_ATTEMPTS, RECONCILE, outbox_dispatch_due, outbox_render

pytestmark = pytest.mark.django_db

DAY0 = dt.date(2012, 3, 1)
OPENS, CLOSES = dt.time(8), dt.time(21)  # the shipped playbook's sending hours
DAILY_LIMIT = 2  # the shipped playbook's sms_daily_limit
MARKETING_ACTS = ("channels_notice", "data_usage_notice", "tier_benefits_notice")
TAKEN = (SENT, QUEUED, UNKNOWN)  # fates after which the customer may have the message


def marketing_mix() -> dict:
    """The shipped playbook with three of its notices sent as marketing, and the billing notice moved to day 0
    beside the tariff notice (a VIP then has three due on day 0: the daily cap holds one)."""
    from onboard90.playbook.services import default_document

    document = default_document()
    for stage in document["stages"]:
        for action in stage["actions"]:
            if action["code"] in MARKETING_ACTS:
                action["sms"]["message_class"] = "marketing"
            if action["code"] == "billing_notice":
                action["sms"]["send_day"] = 0
    assert (document["quiet_hours"], document["sms_daily_limit"]) == ({"start": "08:00", "end": "21:00"}, DAILY_LIMIT)
    return document


@pytest.fixture
def queued_mix() -> list[int]:
    """The customers (ids) of the messages the day-0 cycle queued and the renderer wrote."""
    city = builders.city("jinan")
    builders.package("A66")
    builders.playbook_version(marketing_mix())
    gold = builders.vip_tier("gold")
    customers = [
        *(builders.customer(city_obj=city, activated_on=DAY0) for _ in range(3)),
        builders.customer(city_obj=city, activated_on=DAY0, vip_tier=gold, vip_rated_on=DAY0),
        builders.customer(city_obj=city, activated_on=DAY0, marketing_opt_out=True),  # imported opted out
        # Loaded late: their notices are all due at once, two days (or one) before their windows close.
        builders.customer(city_obj=city, activated_on=DAY0 - dt.timedelta(days=2)),
        builders.customer(city_obj=city, activated_on=DAY0 - dt.timedelta(days=3)),
    ]
    cycle.cycle_run(as_of=clock.cycle_instant(DAY0), dispatch=False)
    outbox_render()
    messages = OutboxMessage.objects.all()
    assert messages.filter(status=MessageStatus.QUEUED).exclude(text="").count() == messages.count() >= 20
    assert messages.filter(message_class=MessageClass.MARKETING).count() >= 6
    assert messages.filter(message_class=MessageClass.SERVICE).count() >= 10
    return [c.pk for c in customers]


def local(instant: dt.datetime) -> dt.datetime:
    return instant.astimezone(clock.OPERATOR_TZ)


def in_sending_hours(instant: dt.datetime) -> bool:
    return OPENS <= local(instant).time() < CLOSES


class Clock:
    """The dispatcher's clock: stands where the history put it and moves on by `tick` at every reading (a
    dispatch takes time); `last` is the latest reading, the instant the dispatcher decided on."""

    def __init__(self, at: dt.datetime):
        self.at = at
        self.last = at
        self.tick = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        self.last = self.at
        self.at += self.tick
        return self.last


@dataclass(frozen=True)
class Handed:
    """One `send` the gateway got: which message, its fate, and the dispatcher's instant."""

    message_id: int
    customer_id: int
    fate: str
    at: dt.datetime
    scheduled_at: dt.datetime  # the row's, at the moment it was handed over
    opted_out: bool  # the customer had opted out of marketing by then
    marketing: bool


class Died(BaseException):
    """The dispatcher's process dies (nothing in it catches this)."""


class RecordingGateway(MemoryGateway):
    """A MemoryGateway whose answers per number the history sets (`fates`), that writes down every send
    with the instant the dispatcher read, and that can kill the dispatcher before its `dies_after`-th send."""

    def __init__(self, clock: Clock, opted_out: set[int]):
        super().__init__()
        self.clock = clock
        self.opted_out = opted_out
        self.log: list[Handed] = []
        self.dies_after: int | None = None

    def send(self, *, msisdn, text, message_id):
        if self.dies_after is not None:
            if self.dies_after <= 0:
                raise Died
            self.dies_after -= 1
        result = super().send(msisdn=msisdn, text=text, message_id=message_id)
        row = OutboxMessage.objects.values("customer_id", "scheduled_at", "message_class").get(pk=message_id)
        self.log.append(
            Handed(
                message_id, row["customer_id"], result.fate, self.clock.last, row["scheduled_at"],
                row["customer_id"] in self.opted_out, row["message_class"] == MessageClass.MARKETING,
            )
        )
        return result


class Outbox(RuleBasedStateMachine):
    customers: list[int] = []  # set by the test, before the machine runs

    def __init__(self):
        super().__init__()
        self._savepoint = transaction.atomic()
        self._savepoint.__enter__()
        self.clock = Clock(clock.at_local(DAY0, 9))
        self.opted_out = set(Customer.objects.filter(marketing_opt_out=True).values_list("pk", flat=True))
        self.gateway = RecordingGateway(self.clock, self.opted_out)
        self.msisdn = dict(Customer.objects.filter(pk__in=self.customers).values_list("pk", "msisdn"))
        self.rows = {
            m["pk"]: m
            for m in OutboxMessage.objects.values("pk", "customer_id", "message_class", "scheduled_at", "not_after")
        }
        self.checked = 0  # log entries already checked
        self.taken: dict[int, Handed] = {}
        self.taken_per_day: collections.Counter = collections.Counter()

    def teardown(self):
        try:
            if sys.exc_info()[0] is None:  # not after a failed step (nor a discarded example)
                self.final_day()
        finally:
            transaction.set_rollback(True)
            self._savepoint.__exit__(None, None, None)

    # -- the history ---------------------------------------------------------------------------------------

    @initialize(
        start=st.integers(0, 14 * 60),
        narrowed=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 30 * 60)), max_size=6),
    )
    def start(self, start, narrowed):
        """The history starts between 09:00 and 23:00 of day 0; a few messages get a window that closes sooner
        (a number of minutes after they are due), so windows close at any hour, mid-round included."""
        self.clock.at = self.clock.last = clock.at_local(DAY0, 9) + dt.timedelta(minutes=start)
        ids = sorted(self.rows)
        for index, minutes in narrowed:
            pk = ids[index % len(ids)]
            not_after = self.rows[pk]["scheduled_at"] + dt.timedelta(minutes=minutes)
            OutboxMessage.objects.filter(pk=pk).update(not_after=not_after)
            self.rows[pk]["not_after"] = not_after

    @rule(
        minutes=st.one_of(st.integers(0, 59), st.integers(60, 24 * 60)),
        runs=st.booleans(),
        tick=st.sampled_from([0, 1, 20, 120]),
        dies_after=st.none() | st.integers(0, 6),
    )
    def time_passes(self, minutes, runs, tick, dies_after):
        """The clock moves on (minutes to a day: into the night, past a window's end) and, if `runs`, the
        outbox-dispatch job runs, its clock moving `tick` seconds at every reading (a round takes time) — and
        with `dies_after`, its process dies before that many more sends (the next run finds the round
        `sending`)."""
        self.clock.at += dt.timedelta(minutes=minutes)
        if not runs:
            return
        self.gateway.dies_after = dies_after
        try:
            self._dispatch(dt.timedelta(seconds=tick))
        except Died:
            pass
        finally:
            self.gateway.dies_after = None

    @rule(who=st.integers(0, 100))
    def customer_replies_td(self, who):
        """What a TD/退订 reply does to the customer (`customers.services.customer_opt_out`)."""
        customer = self.customers[who % len(self.customers)]
        Customer.objects.filter(pk=customer).update(marketing_opt_out=True)
        self.opted_out.add(customer)

    @rule(who=st.none() | st.integers(0, 100), fate=st.sampled_from([TRANSIENT, PERMANENT, UNKNOWN, QUEUED, SENT]))
    def gateway_changes(self, who, fate):
        """The gateway's answer for one number, or for every number (`who` None: down and refusing, timing out
        on every request, queueing for a lost SMS centre, refusing for good, healthy again)."""
        numbers = self.msisdn.values() if who is None else [self.msisdn[self.customers[who % len(self.customers)]]]
        self.gateway.fates.update(dict.fromkeys(numbers, fate))

    def _dispatch(self, tick: dt.timedelta) -> dict:
        self.clock.tick = tick
        try:
            result = outbox_dispatch_due(gateway=self.gateway, now=self.clock)
        finally:
            self.clock.tick = dt.timedelta(0)
        assert not result.get("busy"), "another dispatcher holds the lock (another test run sharing ONBOARD90_VAR?)"
        return result

    # -- what must hold after every step -------------------------------------------------------------------

    @invariant()
    def every_hand_over_was_allowed(self):
        for handed in self.gateway.log[self.checked :]:
            self._check(handed)
        self.checked = len(self.gateway.log)

    def _check(self, handed: Handed) -> None:
        row, when = self.rows[handed.message_id], local(handed.at)
        first = self.taken.get(handed.message_id)
        assert first is None, f"message {handed.message_id} handed over again at {when} after {first}"
        assert in_sending_hours(handed.at), f"message {handed.message_id} handed over at night: {when}"
        assert handed.at <= row["not_after"], f"message {handed.message_id} handed over after {local(row['not_after'])}"
        assert handed.at >= handed.scheduled_at >= row["scheduled_at"], f"message {handed.message_id} early: {handed}"
        assert not (handed.marketing and handed.opted_out), f"marketing to an opted-out customer: {handed}"
        if handed.fate in TAKEN:
            self.taken[handed.message_id] = handed
            # The cap counts what the customer may have got: a timeout too, whatever its record says later.
            day = (handed.customer_id, when.date())
            self.taken_per_day[day] += 1
            assert self.taken_per_day[day] <= DAILY_LIMIT, f"customer {day[0]} got more than the cap on {day[1]}"

    @invariant()
    def the_outbox_agrees_with_the_gateway(self):
        """What the gateway took is recorded sent or awaiting its report (or `sending` after a crash, until
        the next dispatch settles it); nothing it did not take is recorded sent."""
        for pk, status, last_error in OutboxMessage.objects.values_list("pk", "status", "last_error"):
            taken = self.taken.get(pk)
            if status == MessageStatus.SENT:
                assert taken is not None, f"message {pk} recorded sent, the gateway never took it"
            elif status == MessageStatus.UNCONFIRMED:
                assert taken is not None and taken.fate == UNKNOWN
            elif status == MessageStatus.FAILED and last_error == policy.NO_REPORT:
                assert taken is not None and taken.fate == UNKNOWN
            elif status != MessageStatus.SENDING:
                assert taken is None, f"message {pk} is {status} ({last_error}) but the customer may have it: {taken}"

    # -- the end: a day through a healthy gateway, then everything is settled --------------------------------

    def final_day(self):
        self.gateway.fates.clear()
        start = local(self.clock.at).replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
        last_open_round = None
        for hour in range(26):
            self.clock.at = start + dt.timedelta(hours=hour)
            if in_sending_hours(self.clock.at):
                last_open_round = self.clock.at
            self._dispatch(dt.timedelta(seconds=1))
            self.every_hand_over_was_allowed()
        end = self.clock.at
        self.the_outbox_agrees_with_the_gateway()

        for message in OutboxMessage.objects.all():
            pk, status, reason = message.pk, message.status, message.last_error
            taken = self.taken.get(pk)
            what = f"message {pk} ({message.message_class}, due {local(message.scheduled_at)}, "
            what += f"until {local(message.not_after)}): {status} {reason!r}, handed {taken}"
            assert status not in (MessageStatus.SENDING, MessageStatus.UNCONFIRMED), what
            if status == MessageStatus.SENT:
                assert taken is not None and reason in ("", QUEUED), what
                assert [h.message_id for h in self.gateway.log if h.message_id == pk and h.fate in TAKEN] == [pk]
            elif status == MessageStatus.FAILED:
                assert reason, what
                if taken is not None:  # a timeout that took it, with no delivery report within RECONCILE
                    assert taken.fate == UNKNOWN and reason == policy.NO_REPORT, what
                    assert end - taken.at >= RECONCILE, what
                else:  # refused for good, or refused every time it was tried
                    refusals = [h.fate for h in self.gateway.log if h.message_id == pk]
                    assert refusals and set(refusals) <= {TRANSIENT, PERMANENT}, what
                    assert refusals[-1] == PERMANENT or len(refusals) == message.attempts == MAX_SEND_ATTEMPTS, what
            elif status == MessageStatus.MISSED:
                assert taken is None and reason in (policy.WINDOW_CLOSED, policy.OPTED_OUT, policy.DAILY_LIMIT), what
                if reason == policy.OPTED_OUT:
                    assert message.message_class == MessageClass.MARKETING and message.customer_id in self.opted_out
            elif status == MessageStatus.QUEUED:
                assert taken is None, what
                assert message.not_after >= end, f"{what}: its window has closed but it is still queued"
                # Nothing due in the day's last open round was left behind by it.
                assert last_open_round is not None and message.scheduled_at > last_open_round, what
            else:
                pytest.fail(f"unexpected status: {what}")


def test_no_message_is_sent_twice_at_night_late_early_or_as_unwanted_marketing_and_none_is_lost(queued_mix):
    Outbox.customers = queued_mix
    run_state_machine_as_test(
        Outbox,
        settings=settings(
            max_examples=60, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow],
        ),
    )


# -- a hand-over that timed out counts against the daily cap --------------------------------------------


def test_a_hand_over_that_timed_out_counts_against_the_daily_cap(queued_mix):
    vip = Customer.objects.get(vip_tier__isnull=False)
    due = OutboxMessage.objects.filter(customer=vip, scheduled_at__lte=clock.at_local(DAY0, 10))
    assert due.count() == 3 > DAILY_LIMIT  # the tier, tariff and billing notices, all due on day 0
    ten = clock.at_local(DAY0, 10)
    gateway = MemoryGateway(fates={vip.msisdn: UNKNOWN})  # every request for this number times out
    outbox_dispatch_due(gateway=gateway, now=lambda: ten)

    handed = [msisdn for msisdn, _text in gateway.sent if msisdn == vip.msisdn]
    assert handed and set(OutboxMessage.objects.filter(customer=vip).values_list("status", flat=True)) >= {
        MessageStatus.UNCONFIRMED
    }
    if len(handed) > DAILY_LIMIT:
        pytest.fail(f"{len(handed)} messages handed over to one customer on one day (cap {DAILY_LIMIT})")


class TimesOutThenRefuses(MemoryGateway):
    """The first hand-over for `msisdn` times out (it may have arrived); every later one is refused as by a
    gateway that went down, so the round stops with the customer's other messages still queued."""

    def __init__(self, msisdn: str):
        super().__init__()
        self.msisdn = msisdn

    def send(self, *, msisdn, text, message_id):
        if msisdn == self.msisdn:
            mine = [sent for sent in self.sent if sent[0] == msisdn]
            self.fates[msisdn] = UNKNOWN if not mine else TRANSIENT
        return super().send(msisdn=msisdn, text=text, message_id=message_id)


def test_a_timeout_recorded_failed_for_want_of_a_report_still_counts_against_that_days_cap(queued_mix):
    vip = Customer.objects.get(vip_tier__isnull=False)
    ten = clock.at_local(DAY0, 10)
    gateway = TimesOutThenRefuses(vip.msisdn)
    outbox_dispatch_due(gateway=gateway, now=lambda: ten)
    [timed_out] = OutboxMessage.objects.filter(customer=vip, status=MessageStatus.UNCONFIRMED)

    # No delivery report within RECONCILE: recorded failed — but the customer may have it all the same.
    later = ten + RECONCILE + dt.timedelta(minutes=5)
    healthy = MemoryGateway()
    outbox_dispatch_due(gateway=healthy, now=lambda: later)
    timed_out.refresh_from_db()
    assert (timed_out.status, timed_out.last_error) == (MessageStatus.FAILED, policy.NO_REPORT)

    to_vip = [msisdn for msisdn, _text in healthy.sent if msisdn == vip.msisdn]
    assert len(to_vip) == DAILY_LIMIT - 1  # the timed-out one took the first place of the day's two
    still_queued = OutboxMessage.objects.filter(customer=vip, status=MessageStatus.QUEUED)
    assert still_queued.exists()  # the third, held by the cap: not before tomorrow's opening
    assert not still_queued.filter(scheduled_at__lt=clock.at_local(DAY0 + dt.timedelta(days=1), 8)).exists()
