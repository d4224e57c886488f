"""The outbox dispatcher: claim, send, record — and a crash in the middle settles every message once."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.journeys import services as journey_services
from onboard90.messaging.enums import MessageStatus
from onboard90.messaging.gateways import FileGateway, MemoryGateway
from onboard90.messaging.models import OutboxMessage
from onboard90.messaging.services import outbox_dispatch, outbox_render
from onboard90.playbook import templating

pytestmark = pytest.mark.django_db

DAY0 = dt.date(2012, 3, 1)
AS_OF = clock.cycle_instant(DAY0)
HOURS = ("08:00", "21:00")


def at_cycle() -> dt.datetime:
    """The wall clock standing at the cycle's own instant, as in the demo's simulated history."""
    return AS_OF


class CrashingGateway(MemoryGateway):
    """Takes `survive` messages, then the process "dies" (an exception nothing in the dispatcher catches)."""

    def __init__(self, survive: int):
        super().__init__()
        self.survive = survive

    def send(self, *, msisdn, text, message_id):
        if len(self.sent) >= self.survive:
            raise SystemExit("killed")
        return super().send(msisdn=msisdn, text=text, message_id=message_id)


class ForgetfulGateway(CrashingGateway):
    """A gateway that cannot say what it took (no `accepted`)."""

    accepted = None


def test_a_send_cut_off_by_a_crash_is_settled_once_from_the_gateways_record(queued):
    gateway = CrashingGateway(survive=3)
    with pytest.raises(SystemExit):
        outbox_dispatch(as_of=AS_OF, quiet_hours=HOURS, gateway=gateway, now=at_cycle)
    assert OutboxMessage.objects.filter(status=MessageStatus.SENDING).exists()  # the claim survived the crash

    gateway.survive = 10**6  # the rerun's process lives
    outbox_dispatch(as_of=AS_OF, quiet_hours=HOURS, gateway=gateway, now=at_cycle)

    assert OutboxMessage.objects.filter(status=MessageStatus.SENT).count() == queued
    assert len(gateway.sent) == len(set(gateway.sent)) == queued  # nobody got a message twice
    assert set(OutboxMessage.objects.values_list("attempts", flat=True)) == {1}


def test_the_queue_is_read_once_for_many_rounds_and_each_round_claimed_on_its_own(queued, monkeypatch):
    """Rounds of two: each claimed, sent and recorded by itself, but the head of the queue read once for all of
    them (reading it costs as much for one round as for twenty-five on a national outbox), and the order is the
    queue's."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from onboard90.messaging import services

    gateway = MemoryGateway()
    gateway.batch = 2
    monkeypatch.setattr(services, "ROUNDS_A_READ", 4)  # a read holds four rounds, eight messages
    order = list(
        OutboxMessage.objects.filter(status=MessageStatus.QUEUED).order_by("scheduled_at", "pk").values_list("msisdn", flat=True)
    )
    with CaptureQueriesContext(connection) as statements:
        counts = outbox_dispatch(as_of=AS_OF, quiet_hours=HOURS, gateway=gateway, now=at_cycle)
    assert counts["sms_sent"] == queued == 20
    assert [msisdn for msisdn, _text in gateway.sent] == order
    claims = [q["sql"] for q in statements.captured_queries if q["sql"].startswith("UPDATE") and "'sending'" in q["sql"]]
    heads = [q["sql"] for q in statements.captured_queries if "LIMIT 8" in q["sql"] and "ORDER BY" in q["sql"]]
    assert len(claims) == 10  # rounds of two
    assert len(heads) == 4  # reads of 8, 8 and 4, and the one that found the queue empty


def test_a_message_due_while_a_slow_dispatch_works_through_its_read_goes_within_seconds(queued, monkeypatch):
    """A paced gateway takes minutes over one read of the queue's head: the head is read again once READ_FOR has
    passed, so what fell due meanwhile (an answer to a reply) does not wait for the whole read to be sent."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from onboard90.messaging import services

    gateway = MemoryGateway()
    gateway.batch = 2
    monkeypatch.setattr(services, "ROUNDS_A_READ", 100)  # one read would hold the whole queue
    ticks = iter(range(10_000))

    def slow_clock():  # 4 s pass between two readings of the clock
        return AS_OF + dt.timedelta(seconds=4 * next(ticks))

    with CaptureQueriesContext(connection) as statements:
        counts = outbox_dispatch(as_of=AS_OF, quiet_hours=HOURS, gateway=gateway, now=slow_clock)
    assert counts["sms_sent"] == queued
    heads = [q["sql"] for q in statements.captured_queries if "LIMIT 200" in q["sql"] and "ORDER BY" in q["sql"]]
    assert len(heads) > 2  # read again as the clock moved on, not once for the whole queue


def test_a_gateway_that_cannot_tell_gets_the_interrupted_batch_again(queued):
    gateway = ForgetfulGateway(survive=3)
    with pytest.raises(SystemExit):
        outbox_dispatch(as_of=AS_OF, quiet_hours=HOURS, gateway=gateway, now=at_cycle)
    gateway.survive = 10**6
    outbox_dispatch(as_of=AS_OF, quiet_hours=HOURS, gateway=gateway, now=at_cycle)

    assert OutboxMessage.objects.filter(status=MessageStatus.SENT).count() == queued
    # At least once: the three it took before the crash went out again, nothing was lost.
    assert len(gateway.sent) == queued + 3


def test_an_interrupted_send_whose_act_ended_meanwhile_is_cancelled_not_sent(queued):
    from onboard90.customers.models import Customer

    gateway = ForgetfulGateway(survive=0)
    with pytest.raises(SystemExit):
        outbox_dispatch(as_of=AS_OF, quiet_hours=HOURS, gateway=gateway, now=at_cycle)
    customer = Customer.objects.order_by("pk").first()
    journey_services.journey_exit(customer=customer, at=AS_OF + dt.timedelta(hours=1))
    gateway.survive = 10**6
    later = AS_OF + dt.timedelta(hours=2)
    outbox_dispatch(as_of=later, quiet_hours=HOURS, gateway=gateway, now=lambda: later)

    theirs = OutboxMessage.objects.filter(customer=customer)
    assert set(theirs.values_list("status", flat=True)) == {MessageStatus.CANCELLED}
    assert customer.msisdn not in {msisdn for msisdn, _text in gateway.sent}


def test_a_second_dispatcher_leaves_the_outbox_to_the_one_at_work(queued):
    with builders.held_elsewhere("dispatch"):
        result = outbox_dispatch(as_of=AS_OF, quiet_hours=HOURS, gateway=MemoryGateway(), now=at_cycle)
    assert result["busy"] is True
    assert not OutboxMessage.objects.exclude(status=MessageStatus.QUEUED).exists()
    assert outbox_dispatch(as_of=AS_OF, quiet_hours=HOURS, gateway=MemoryGateway(), now=at_cycle)["sms_sent"] == queued


def test_the_file_gateway_knows_what_it_wrote_and_ignores_a_torn_line(tmp_path):
    gateway = FileGateway(tmp_path / "sent.jsonl")
    gateway.send(msisdn="18612345678", text="【中国联通】一", message_id=1)
    gateway.send(msisdn="18612345679", text="【中国联通】二", message_id=2)
    with gateway.path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": 3, "to": "18612345670", "text": "【中国联通】三"}, ensure_ascii=False)[:20])

    found = gateway.accepted({
        1: ("18612345678", "【中国联通】一"),
        2: ("18612345679", "another text under a reused id"),
        3: ("18612345670", "【中国联通】三"),
        4: ("18612345671", "【中国联通】四"),
    })
    assert found == {1: "file:1"}


def test_the_renderer_goes_through_the_backlog_a_batch_at_a_time_rendering_each_message_once(queued, monkeypatch):
    calls = []
    real = templating.render
    monkeypatch.setattr(templating, "render", lambda template, context: calls.append(1) or real(template, context))
    assert outbox_render(batch=3, page=4) == queued  # pages and batches that do not divide the backlog
    assert len(calls) == queued
    assert not OutboxMessage.objects.filter(text="").exists()
    assert outbox_render(batch=3, page=4) == 0 and len(calls) == queued  # nothing left, nothing read again


def test_a_message_that_fails_to_render_is_set_aside_and_the_rest_are_rendered(queued, monkeypatch):
    real = templating.render
    failing = OutboxMessage.objects.order_by("pk").values_list("pk", flat=True)[2]
    in_render_order = iter(OutboxMessage.objects.order_by("pk").values_list("pk", flat=True))

    def render(template, context):
        if next(in_render_order) == failing:
            raise ValueError("bad template")
        return real(template, context)

    monkeypatch.setattr(templating, "render", render)
    assert outbox_render(batch=2, page=3) == queued - 1
    broken = OutboxMessage.objects.get(pk=failing)
    assert broken.status == MessageStatus.FAILED and "bad template" in broken.last_error
    assert OutboxMessage.objects.filter(status=MessageStatus.QUEUED).exclude(text="").count() == queued - 1
