"""Delivery reports (送达报告, DLR): what the gateway later says became of a message it took.

Kannel calls the `dlr-url` each message carries (`kannel.KannelGateway.dlr_url`, our message id in it) once per
report type of its dlr-mask; `views.kannel_dlr` passes each call here. Kannel's types, as the outbox keeps them
(`enums.Delivery`):

- 1 delivered → `delivered`: the handset has it (final);
- 2 not delivered → `failed` (final), or `expired` when the SMS centre's reply says the validity period ran
  out (SMPP's `stat:EXPIRED`): the handset was off or out of coverage for the whole validity period;
- 4 queued at the SMS centre → `queued` (on the way: the centre tries again);
- 8 accepted by the SMS centre → `accepted` (on the way: Kannel's `ACK/`);
- 16 rejected by the SMS centre → `rejected` (final).

Reports arrive in any order (8 often after 1) and may arrive twice: a final state is never moved back to an
on-the-way one, and a report that says what the message already says changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from django.db import transaction

from onboard90.messaging.enums import FINAL_DELIVERY, Delivery, MessageStatus
from onboard90.messaging.kannel import kannel_status_meaning
from onboard90.messaging.models import OutboxMessage

# The outbox's one way of telling the engine that acts' messages left (`signals.messages_settled`), imported
# rather than copied so that a delivery report and a dispatch round report in the same shape.
from onboard90.messaging.services import _report

log = logging.getLogger("onboard90.messaging")

# dlr_record's outcomes besides the Delivery values it records.
UNKNOWN = "unknown"  # no message has this id: logged, nothing written
UNCHANGED = "unchanged"  # the message already says this (the same report again)
STALE = "stale"  # an on-the-way report after a final one: kept out

_MEANINGS = {
    "delivered": Delivery.DELIVERED,
    "failed": Delivery.FAILED,
    "queued": Delivery.QUEUED,
    "accepted": Delivery.ACCEPTED,
    "rejected": Delivery.REJECTED,
}
# An SMS centre's words for "the validity period ran out" in a not-delivered report: SMPP's receipt text
# ("… stat:EXPIRED err:…"), or a centre that says it in words.
_EXPIRED = re.compile(r"\bEXPIRED\b|validity[ _-]?period", re.IGNORECASE)


def delivery_of(report_type: int, detail: str = "") -> Delivery:
    """The delivery state a Kannel report type (with the SMS centre's reply, `detail`) means; ValueError for
    a type Kannel does not have."""
    delivery = _MEANINGS[kannel_status_meaning(report_type)]
    if delivery == Delivery.FAILED and _EXPIRED.search(detail or ""):
        return Delivery.EXPIRED
    return delivery


def dlr_record(*, message_id: int, report_type: int, reported_at: dt.datetime, detail: str = "") -> str:
    """Record one delivery report on its message; returns the Delivery value recorded, or UNKNOWN, UNCHANGED,
    STALE (see above). Raises ValueError for a report type Kannel does not have.

    A report for a message left `unconfirmed` (the gateway never answered its hand-over) settles it: any
    report at all means the gateway had the message, so it is recorded `sent` — `sent_at` stays the hand-over
    time — and its act is reported delivered (`signals.messages_settled`, at that hand-over time: the act was
    done when its message left, not when the report came), even when the report is a failure.

    A final failure (failed, expired, rejected) of a message already `sent` records the delivery and nothing
    else: its act stays as it is. The plan's act was to send its message inside its window, which it did, in
    time; whether the handset got it is the gateway's answer, kept on the message for the delivery figures
    (and the admin), not a reason to reopen the act or count it missed after the fact.

    A report may come before the dispatcher has recorded its round (Kannel answers a hand-over and the SMS
    centre acknowledges it within milliseconds, while the round is recorded once all of it has been handed
    over): the delivery is recorded and the status left to the dispatcher, which writes only its own fields.

    The message is read under a row lock in the report's own transaction, so two reports for it (Kannel
    sends them side by side) are applied one after the other.
    """
    delivery = delivery_of(report_type, detail)
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update()
            .only("status", "action_id", "sent_at", "last_error", "delivery", "delivery_at", "delivery_detail")
            .filter(pk=message_id)
            .first()
        )
        if message is None:
            log.warning(
                "delivery report %s (%s) for message %s, which is not in the outbox: ignored",
                report_type, delivery.value, message_id,
            )
            return UNKNOWN
        fields: list[str] = []
        settles = message.status == MessageStatus.UNCONFIRMED
        if settles:
            message.status, message.last_error = MessageStatus.SENT, ""
            fields += ["status", "last_error"]
        if message.delivery == delivery:
            outcome = UNCHANGED
        elif message.delivery in FINAL_DELIVERY and delivery not in FINAL_DELIVERY:
            outcome = STALE
        else:
            message.delivery, message.delivery_at = delivery, reported_at
            message.delivery_detail = (detail or "")[:255]
            fields += ["delivery", "delivery_at", "delivery_detail"]
            outcome = delivery.value
        if fields:
            message.save(update_fields=fields)
        if settles:
            _report(at=message.sent_at, delivered=[message.action_id] if message.action_id else [])
            log.info("sms %s: unconfirmed hand-over settled as sent by a delivery report (%s)", message_id, delivery)
        elif message.status not in (MessageStatus.SENT, MessageStatus.SENDING):
            # A report for a message recorded failed (no report within RECONCILE) or never handed over: kept on
            # the message for whoever looks, the status and the act as they are.
            log.info("sms %s is %s; delivery report %s recorded on it only", message_id, message.status, delivery)
    return outcome
