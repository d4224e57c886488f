"""Delivery reports (DLR): Kannel's report types as delivery states, once each and never backwards; a report
settles a hand-over that went unanswered — through the service, the endpoint as Kannel calls it, and a real
Kannel reporting on a message the dispatcher handed it."""

from __future__ import annotations

import datetime as dt
import logging
import re
import urllib.parse

import pytest
from django.urls import reverse

from onboard90.core import clock
from onboard90.journeys.enums import ActionStatus
from onboard90.journeys.models import JourneyAction
from onboard90.messaging.delivery import STALE, UNCHANGED, UNKNOWN, delivery_of, dlr_record
from onboard90.messaging.enums import Delivery, MessageStatus
from onboard90.messaging.gateways import UNKNOWN as NO_ANSWER
from onboard90.messaging.gateways import MemoryGateway
from onboard90.messaging.kannel import DLR_PATH
from onboard90.messaging.models import OutboxMessage
from onboard90.messaging.services import RECONCILE, outbox_dispatch
from onboard90.messaging.tests.conftest import DAY0
from onboard90.messaging.tests.live_kannel import (  # noqa: F401 (fixtures of the `kannel` tests)
    SECRET,
    kannel_for_live_server_fixture,
    live_kannel_fixture,
    wait_for,
)

AS_OF = clock.cycle_instant(DAY0)
HOURS = ("08:00", "21:00")
REPORTED = clock.at_local(DAY0, 9, 5)
SMPP_EXPIRED = "id:0123 sub:001 dlvrd:000 submit date:1203010900 done date:1203030900 stat:EXPIRED err:000 text:"
SMPP_UNDELIVERED = "id:0123 sub:001 dlvrd:000 submit date:1203010900 done date:1203010901 stat:UNDELIV err:001"


def send_all(gateway=None) -> MemoryGateway:
    gateway = gateway or MemoryGateway()
    outbox_dispatch(as_of=AS_OF, quiet_hours=HOURS, gateway=gateway, now=lambda: AS_OF)
    return gateway


def sms_only(status: str = MessageStatus.SENT) -> OutboxMessage:
    """A message in `status` whose act is delivered by SMS alone (no staff task): its message decides it."""
    return OutboxMessage.objects.filter(status=status, action__task__isnull=True).order_by("pk").first()


def report(message: OutboxMessage, report_type: int, *, detail: str = "", at: dt.datetime = REPORTED) -> str:
    return dlr_record(message_id=message.pk, report_type=report_type, reported_at=at, detail=detail)


# -- the states ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("report_type", "detail", "state"),
    [
        (1, "id:0123 stat:DELIVRD err:000", Delivery.DELIVERED),
        (2, SMPP_UNDELIVERED, Delivery.FAILED),
        (2, SMPP_EXPIRED, Delivery.EXPIRED),
        (2, "validity period ran out", Delivery.EXPIRED),
        (4, "", Delivery.QUEUED),
        (8, "ACK/", Delivery.ACCEPTED),
        (16, "NACK/0x00000045/Submit failed", Delivery.REJECTED),
    ],
)
def test_each_kannel_report_type_is_a_delivery_state(report_type, detail, state):
    assert delivery_of(report_type, detail) == state


@pytest.mark.parametrize("report_type", [0, 32, -2])
def test_a_report_type_kannel_does_not_have_is_refused(report_type):
    with pytest.raises(ValueError, match="not a Kannel delivery report type"):
        delivery_of(report_type)


@pytest.mark.parametrize(
    ("report_type", "detail", "state"),
    [(1, "", Delivery.DELIVERED), (2, SMPP_EXPIRED, Delivery.EXPIRED), (16, "NACK/", Delivery.REJECTED),
     (8, "ACK/", Delivery.ACCEPTED)],
)
@pytest.mark.django_db
def test_a_report_is_recorded_on_its_message_with_its_time_and_the_centres_words(queued, report_type, detail, state):
    send_all()
    message = sms_only()
    assert report(message, report_type, detail=detail) == state.value
    message.refresh_from_db()
    assert (message.delivery, message.delivery_at, message.delivery_detail) == (state, REPORTED, detail)
    assert message.status == MessageStatus.SENT


@pytest.mark.django_db
def test_the_same_report_twice_changes_nothing(queued):
    send_all()
    message = sms_only()
    assert report(message, 1, detail="first") == Delivery.DELIVERED
    assert report(message, 1, detail="again", at=REPORTED + dt.timedelta(minutes=3)) == UNCHANGED
    message.refresh_from_db()
    assert (message.delivery, message.delivery_at, message.delivery_detail) == (Delivery.DELIVERED, REPORTED, "first")


@pytest.mark.parametrize("final", [1, 2, 16])
@pytest.mark.parametrize("on_the_way", [4, 8])
@pytest.mark.django_db
def test_a_final_state_is_never_moved_back_to_an_on_the_way_one(queued, final, on_the_way):
    send_all()
    message = sms_only()
    report(message, final)
    assert report(message, on_the_way, at=REPORTED + dt.timedelta(seconds=1)) == STALE
    message.refresh_from_db()
    assert message.delivery == delivery_of(final) and message.delivery_at == REPORTED


@pytest.mark.django_db
def test_reports_in_their_usual_order_end_on_the_final_one(queued):
    send_all()
    message = sms_only()
    outcomes = [report(message, t, at=REPORTED + dt.timedelta(seconds=n)) for n, t in enumerate((8, 4, 2))]
    assert outcomes == [Delivery.ACCEPTED, Delivery.QUEUED, Delivery.FAILED]
    message.refresh_from_db()
    assert (message.delivery, message.delivery_at) == (Delivery.FAILED, REPORTED + dt.timedelta(seconds=2))


@pytest.mark.django_db
def test_a_report_for_a_message_that_is_not_in_the_outbox_is_logged_not_an_error(caplog):
    with caplog.at_level(logging.WARNING, logger="onboard90.messaging"):
        assert dlr_record(message_id=987654, report_type=1, reported_at=REPORTED) == UNKNOWN
    assert "987654" in caplog.text and "not in the outbox" in caplog.text


# -- what a report means for the message and its act -----------------------------------------------------------


def unconfirmed() -> OutboxMessage:
    """A day-0 message whose hand-over went unanswered (a timeout): it may have left, it is never sent again."""
    message = sms_only(MessageStatus.QUEUED)
    gateway = MemoryGateway(fates={message.msisdn: NO_ANSWER})
    send_all(gateway)
    message.refresh_from_db()
    assert message.status == MessageStatus.UNCONFIRMED and message.sent_at == AS_OF
    assert message.action.status == ActionStatus.OPEN
    return message


@pytest.mark.parametrize(("report_type", "state"), [(8, Delivery.ACCEPTED), (1, Delivery.DELIVERED), (2, Delivery.FAILED)])
@pytest.mark.django_db
def test_any_report_settles_an_unconfirmed_hand_over_as_sent_and_its_act_done_when_it_left(
    queued, report_type, state
):
    message = unconfirmed()
    assert report(message, report_type, at=AS_OF + dt.timedelta(minutes=20)) == state.value
    message.refresh_from_db()
    assert (message.status, message.sent_at, message.last_error) == (MessageStatus.SENT, AS_OF, "")
    assert message.delivery == state
    act = JourneyAction.objects.get(pk=message.action_id)
    assert (act.status, act.closed_at) == (ActionStatus.DONE, AS_OF)


@pytest.mark.django_db
def test_a_settled_hand_over_is_not_failed_later_for_want_of_a_report(queued):
    message = unconfirmed()
    report(message, 8, at=AS_OF + dt.timedelta(minutes=5))
    later = AS_OF + RECONCILE + dt.timedelta(minutes=1)
    outbox_dispatch(as_of=later, quiet_hours=HOURS, gateway=MemoryGateway(), now=lambda: later)
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert JourneyAction.objects.get(pk=message.action_id).status == ActionStatus.DONE


@pytest.mark.parametrize("report_type", [2, 16])
@pytest.mark.django_db
def test_a_final_failure_of_a_sent_message_records_the_delivery_only(queued, report_type):
    send_all()
    message = sms_only()
    act = JourneyAction.objects.get(pk=message.action_id)
    assert act.status == ActionStatus.DONE
    report(message, report_type, detail=SMPP_UNDELIVERED)
    message.refresh_from_db()
    assert (message.status, message.delivery) == (MessageStatus.SENT, delivery_of(report_type))
    assert JourneyAction.objects.filter(pk=act.pk).values_list("status", "closed_at").get() == (
        act.status, act.closed_at,
    )


@pytest.mark.django_db
def test_a_report_before_the_dispatcher_recorded_its_round_leaves_the_status_to_it(queued):
    message = sms_only(MessageStatus.QUEUED)
    OutboxMessage.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING)  # claimed, in flight
    assert report(message, 8) == Delivery.ACCEPTED
    message.refresh_from_db()
    assert (message.status, message.delivery) == (MessageStatus.SENDING, Delivery.ACCEPTED)
    assert JourneyAction.objects.get(pk=message.action_id).status == ActionStatus.OPEN


@pytest.mark.django_db
def test_a_late_report_for_a_message_recorded_failed_is_kept_on_it_and_changes_nothing_else(queued):
    message = unconfirmed()
    later = AS_OF + RECONCILE + dt.timedelta(minutes=1)
    outbox_dispatch(as_of=later, quiet_hours=HOURS, gateway=MemoryGateway(), now=lambda: later)
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert report(message, 1, at=later + dt.timedelta(minutes=1)) == Delivery.DELIVERED
    message.refresh_from_db()
    assert (message.status, message.delivery) == (MessageStatus.FAILED, Delivery.DELIVERED)
    assert JourneyAction.objects.get(pk=message.action_id).status == ActionStatus.MISSED


# -- the DLR endpoint ----------------------------------------------------------------------------------------


@pytest.fixture
def secret(settings):
    settings.ONBOARD90 = {**settings.ONBOARD90, "KANNEL": {**settings.ONBOARD90["KANNEL"], "CALLBACK_SECRET": SECRET}}
    return SECRET


def dlr(client, *, secret=SECRET, remote="127.0.0.1", **params):
    query = {"id": "1", "status": "1", "ts": "1330563900", "to": "18600000000", "reply": "ACK/", **params}
    if secret is not None:
        query["secret"] = secret
    return client.get(DLR_PATH, query, REMOTE_ADDR=remote)


def test_the_dlr_endpoint_is_where_the_gateway_tells_kannel_to_report():
    assert reverse("messaging:kannel-dlr") == DLR_PATH


@pytest.mark.django_db
def test_a_report_through_the_endpoint_is_recorded_at_kannels_time(client, queued, secret):
    send_all()
    message = sms_only()
    response = dlr(client, id=str(message.pk), status="2", ts="1330563900", reply=SMPP_EXPIRED)
    assert (response.status_code, response.content) == (200, b"ok: expired\n")
    message.refresh_from_db()
    assert message.delivery == Delivery.EXPIRED and message.delivery_detail == SMPP_EXPIRED
    assert message.delivery_at == dt.datetime(2012, 3, 1, 1, 5, tzinfo=dt.UTC)
    assert dlr(client, id=str(message.pk), status="2", reply=SMPP_EXPIRED).content == b"ok: unchanged\n"


@pytest.mark.django_db
def test_a_report_without_a_time_is_recorded_when_it_came(client, queued, secret):
    send_all()
    message = sms_only()
    before = clock.now()
    assert dlr(client, id=str(message.pk), status="8", ts="").status_code == 200
    message.refresh_from_db()
    assert before <= message.delivery_at <= clock.now()


@pytest.mark.django_db
def test_a_report_for_an_unknown_message_is_answered_ok(client, secret):
    response = dlr(client, id="424242")
    assert (response.status_code, response.content) == (200, b"ok: unknown\n")


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"id": ""}, "id is missing"),
        ({"id": "forty-two"}, "id is not a whole number"),
        ({"id": "0"}, "id is not a message id"),
        ({"id": str(2**70)}, "id is not a message id"),
        ({"status": ""}, "status is missing"),
        ({"status": "32"}, "status: not a Kannel delivery report type: 32"),
        ({"status": "%d"}, "status is not a whole number"),
        ({"ts": "%T"}, "ts is not a whole number"),
        ({"ts": "-99999999999999"}, "ts is not a time"),
    ],
)
@pytest.mark.django_db
def test_a_report_with_a_bad_parameter_is_refused_with_its_reason(client, secret, params, reason):
    response = dlr(client, **params)
    assert response.status_code == 400
    assert response.content.decode().startswith(f"bad request: {reason}")


@pytest.mark.parametrize(
    ("kwargs", "configured"),
    [({"secret": None}, SECRET), ({"secret": SECRET.upper()}, SECRET), ({"remote": "192.0.2.7"}, SECRET), ({}, "")],
)
@pytest.mark.django_db
def test_a_caller_that_is_not_the_gateway_is_refused_and_nothing_is_recorded(
    client, settings, queued, kwargs, configured
):
    send_all()
    message = sms_only()
    settings.ONBOARD90 = {
        **settings.ONBOARD90, "KANNEL": {**settings.ONBOARD90["KANNEL"], "CALLBACK_SECRET": configured}
    }
    response = dlr(client, id=str(message.pk), **kwargs)
    assert (response.status_code, response.content) == (403, b"forbidden: not the configured SMS gateway\n")
    message.refresh_from_db()
    assert message.delivery == ""


@pytest.mark.parametrize(
    ("allowed", "remote", "status"),
    [
        (["10.20.0.0/16"], "10.20.3.4", 200),
        (["10.20.0.0/16"], "10.21.3.4", 403),
        (["10.20.3.4", "::1"], "::1", 200),
        (["127.0.0.1"], "::ffff:127.0.0.1", 200),
        (["not an address"], "127.0.0.1", 403),
    ],
)
@pytest.mark.django_db
def test_the_allowed_addresses_are_addresses_or_networks(client, settings, allowed, remote, status):
    settings.ONBOARD90 = {
        **settings.ONBOARD90,
        "KANNEL": {**settings.ONBOARD90["KANNEL"], "CALLBACK_SECRET": SECRET, "ALLOWED_ADDRESSES": allowed},
    }
    assert dlr(client, id="424242", remote=remote).status_code == status


@pytest.mark.django_db
def test_the_secret_kannel_carries_in_the_gateways_dlr_url_is_accepted(client, secret):
    """The secret as KannelGateway writes it into the dlr-url (quoted, % doubled for Kannel), as Kannel sends it
    back (Kannel undoes the doubling)."""
    from onboard90.messaging.kannel import KannelGateway

    url = KannelGateway(
        sendsms_url="http://kannel.test/cgi-bin/sendsms", password="x", callback_base="http://cb.test",
        callback_secret=SECRET,
    ).dlr_url(424242)
    # Kannel's one pass over the URL: %% is a %, each escape its value URL-encoded.
    values = {"%": "%", "d": "1", "T": "1330563900", "p": "18600000000", "A": "ACK%2F"}
    sent_back = re.sub(r"%(.)", lambda m: values.get(m.group(1), m.group(0)), url)
    query = urllib.parse.urlsplit(sent_back).query
    assert urllib.parse.parse_qs(query)["secret"] == [SECRET]
    assert client.get(f"{DLR_PATH}?{query}", REMOTE_ADDR="127.0.0.1").content == b"ok: unknown\n"


# -- a real Kannel reporting on a message the dispatcher handed it ------------------------------------------------


@pytest.mark.kannel
def test_messages_dispatched_through_kannel_get_their_delivery_reports_and_end_delivered(live_kannel, queue_at):
    with live_kannel.guard:
        queued = queue_at(clock.cycle_instant(DAY0))
        counts = outbox_dispatch(as_of=AS_OF, quiet_hours=HOURS, gateway=live_kannel.gateway(), now=lambda: AS_OF)
        assert counts["sms_sent"] == queued
        followed = sms_only()
        theirs = list(OutboxMessage.objects.filter(customer_id=followed.customer_id))
    # What the customer's handset got: every part of every message (a long one comes as concatenated parts).
    parts = live_kannel.peer.wait_received(sum(m.segments for m in theirs), to=followed.msisdn)
    assert {m.text for m in theirs if m.segments == 1} <= {part.text for part in parts}

    def all_delivered() -> bool:
        return OutboxMessage.objects.filter(delivery=Delivery.DELIVERED).count() == queued

    wait_for(live_kannel, all_delivered, f"{queued} delivered reports", timeout=30)
    with live_kannel.guard:
        followed.refresh_from_db()
        assert (followed.status, followed.gateway, followed.gateway_ref) == (
            MessageStatus.SENT, "kannel", f"kannel:{followed.pk}",
        )
        assert followed.delivery_at is not None
        assert set(OutboxMessage.objects.values_list("status", flat=True)) == {MessageStatus.SENT}
        assert JourneyAction.objects.get(pk=followed.action_id).status == ActionStatus.DONE
