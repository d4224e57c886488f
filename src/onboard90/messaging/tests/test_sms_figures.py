"""短信发送统计: what became of the plan's SMS, per act and in total — every message in one status column,
the sent ones split by their delivery reports, every suppression counted under its reason."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from onboard90.core import clock
from onboard90.customers.models import Customer
from onboard90.messaging import policy
from onboard90.messaging.enums import Delivery, MessageStatus
from onboard90.messaging.gateways import PERMANENT, MemoryGateway
from onboard90.messaging.models import OutboxMessage
from onboard90.messaging.selectors import SMS_FIGURES, sms_figures
from onboard90.messaging.services import outbox_dispatch
from onboard90.messaging.tests.conftest import DAY0

pytestmark = pytest.mark.django_db
HOURS = ("08:00", "21:00")
AT = clock.cycle_instant(DAY0)


def test_every_message_is_counted_once_and_the_sent_ones_by_their_delivery(queued):
    customers = list(Customer.objects.order_by("pk"))
    refused = customers[0].msisdn
    OutboxMessage.objects.filter(customer=customers[1]).update(status=MessageStatus.MISSED, last_error=policy.OPTED_OUT)
    outbox_dispatch(as_of=AT, quiet_hours=HOURS, gateway=MemoryGateway(fates={refused: PERMANENT}), now=lambda: AT)
    sent = OutboxMessage.objects.filter(status=MessageStatus.SENT).order_by("pk")
    OutboxMessage.objects.filter(pk=sent[0].pk).update(delivery=Delivery.DELIVERED)
    OutboxMessage.objects.filter(pk=sent[1].pk).update(delivery=Delivery.EXPIRED)

    report = sms_figures(day_from=DAY0, day_to=DAY0)
    total = report["total"]
    statuses = ("waiting", "sent", "unconfirmed", "failed", "missed", "suppressed_opted_out",
                "suppressed_daily_limit", "cancelled")
    assert total["messages"] == queued == sum(total[name] for name in statuses)
    assert total["failed"] == OutboxMessage.objects.filter(customer__msisdn=refused).count() > 0
    assert total["suppressed_opted_out"] == OutboxMessage.objects.filter(customer=customers[1]).count() > 0
    assert (total["delivered"], total["undelivered"]) == (1, 1)
    assert total["delivery_rate"] == round(1 / total["sent"], 4)
    assert sum(row["messages"] for row in report["rows"]) == total["messages"]
    assert {row["action"] for row in report["rows"]} == set(
        OutboxMessage.objects.values_list("action__action_code", flat=True)
    )


def test_a_day_with_no_messages_reports_zeros_not_an_error(queued):
    report = sms_figures(day_from=DAY0.replace(year=2013), day_to=DAY0.replace(year=2013))
    assert report["rows"] == [] and report["total"]["messages"] == 0 and report["total"]["delivery_rate"] is None


def test_report_sms_prints_the_table_and_the_same_figures_as_json(queued, capsys):
    outbox_dispatch(as_of=AT, quiet_hours=HOURS, gateway=MemoryGateway(), now=lambda: AT)
    call_command("report", "sms", "--json")
    document = json.loads(capsys.readouterr().out)
    assert document["total"]["sent"] == queued and set(SMS_FIGURES) <= set(document["total"])
    table = io.StringIO()
    call_command("report", "sms", "--from", DAY0.isoformat(), "--to", DAY0.isoformat(), stdout=table)
    text = table.getvalue()
    assert "短信发送统计" in text and "合计 / total" in text and "100.0%" not in text.splitlines()[0]
