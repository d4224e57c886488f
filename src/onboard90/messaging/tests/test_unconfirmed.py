"""A hand-over whose answer never came (a timeout) is never sent again: a delivery report settles it as sent,
also one that arrived while the send was still waiting for its answer; without a report it is recorded failed
after RECONCILE, and its act missed."""

from __future__ import annotations

import datetime as dt

import pytest

from onboard90.core import clock
from onboard90.customers.models import Customer
from onboard90.journeys.enums import ActionStatus
from onboard90.journeys.models import Task
from onboard90.messaging import policy
from onboard90.messaging.enums import Delivery, MessageStatus
from onboard90.messaging.gateways import UNKNOWN, MemoryGateway
from onboard90.messaging.models import OutboxMessage
from onboard90.messaging.services import RECONCILE, outbox_dispatch
from onboard90.messaging.tests.conftest import DAY0

pytestmark = pytest.mark.django_db
HOURS = ("08:00", "21:00")
AT = clock.cycle_instant(DAY0)


def _timed_out(queued) -> tuple[MemoryGateway, Customer]:
    customer = Customer.objects.order_by("pk").first()
    gateway = MemoryGateway(fates={customer.msisdn: UNKNOWN})
    outbox_dispatch(as_of=AT, quiet_hours=HOURS, gateway=gateway, now=lambda: AT)
    return gateway, customer


def test_a_timed_out_send_is_never_handed_over_again(queued):
    gateway, customer = _timed_out(queued)
    theirs = OutboxMessage.objects.filter(customer=customer)
    assert set(theirs.values_list("status", flat=True)) == {MessageStatus.UNCONFIRMED}
    handed = len(gateway.sent)
    gateway.fates.clear()
    later = AT + dt.timedelta(minutes=30)
    outbox_dispatch(as_of=later, quiet_hours=HOURS, gateway=gateway, now=lambda: later)
    assert len(gateway.sent) == handed  # nothing of theirs went again


def test_a_report_that_came_during_the_wait_settles_it_as_sent_and_the_act_done(queued):
    _gateway, customer = _timed_out(queued)
    OutboxMessage.objects.filter(customer=customer).update(delivery=Delivery.DELIVERED, delivery_at=AT)
    later = AT + dt.timedelta(minutes=5)
    outbox_dispatch(as_of=later, quiet_hours=HOURS, gateway=MemoryGateway(), now=lambda: later)
    theirs = OutboxMessage.objects.filter(customer=customer).select_related("action")
    assert {m.status for m in theirs} == {MessageStatus.SENT}
    sms_only = [m for m in theirs if not Task.objects.filter(action=m.action).exists()]  # a task closes its own act
    assert sms_only and {m.action.status for m in sms_only} == {ActionStatus.DONE}
    assert all(m.action.closed_at == m.sent_at == AT for m in sms_only)


def test_without_a_report_it_is_failed_after_reconcile_and_its_act_missed(queued):
    _gateway, customer = _timed_out(queued)
    later = AT + RECONCILE + dt.timedelta(minutes=1)
    outbox_dispatch(as_of=later, quiet_hours=HOURS, gateway=MemoryGateway(), now=lambda: later)
    theirs = OutboxMessage.objects.filter(customer=customer).select_related("action")
    assert {(m.status, m.last_error) for m in theirs} == {(MessageStatus.FAILED, policy.NO_REPORT)}
    sms_only = [m for m in theirs if not Task.objects.filter(action=m.action).exists()]
    assert sms_only and {m.action.status for m in sms_only} == {ActionStatus.MISSED}

