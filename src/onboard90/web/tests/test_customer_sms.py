"""The customer page's SMS: each message with its status and delivery report, why one did not go, the
customer's replies and what they were taken to mean."""

from __future__ import annotations

import pytest

from onboard90.core import clock
from onboard90.messaging import policy
from onboard90.messaging.enums import Delivery, MessageStatus, ReplyKind
from onboard90.messaging.models import InboundMessage, OutboxMessage
from onboard90.web.tests.test_customer_page import NOW, activated, as_user

pytestmark = pytest.mark.django_db


def test_the_page_shows_the_delivery_report_and_why_a_message_did_not_go(client, province):  # noqa: F811
    customer = activated(province["jinan"])
    first, second = OutboxMessage.objects.filter(customer=customer).order_by("pk")[:2]
    OutboxMessage.objects.filter(pk=first.pk).update(
        status=MessageStatus.SENT, sent_at=NOW, delivery=Delivery.DELIVERED, delivery_at=NOW
    )
    OutboxMessage.objects.filter(pk=second.pk).update(status=MessageStatus.MISSED, last_error=policy.OPTED_OUT)
    page = as_user(client, province["clerk"], "get", f"/customers/{customer.msisdn}/").content.decode()
    assert "已送达" in page and "dlr-delivered" in page
    assert "客户已退订营销短信" in page


def test_the_page_lists_the_customers_replies(client, province):  # noqa: F811
    customer = activated(province["jinan"])
    InboundMessage.objects.create(
        msisdn=customer.msisdn, text="TD", received_at=NOW, customer=customer, kind=ReplyKind.OPT_OUT
    )
    InboundMessage.objects.create(
        msisdn=customer.msisdn, text="天气怎么样", received_at=clock.at_local(NOW.date(), 16), customer=customer
    )
    page = as_user(client, province["clerk"], "get", f"/customers/{customer.msisdn}/").content.decode()
    assert "客户回复" in page and "天气怎么样" in page and "退订" in page and "未识别" in page
