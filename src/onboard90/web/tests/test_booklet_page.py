"""The customer page's booklet: the clerk prints the customer's own 《3G客户常用服务指南》 and records handing it
over; someone whose scope does not reach the customer gets 404 for both, as for an unknown number."""

from __future__ import annotations

import pytest

from onboard90.guide.models import BookletHandover
from onboard90.web.tests.test_customer_page import NOW, activated, as_user, messages_of

pytestmark = pytest.mark.django_db


def test_the_clerk_prints_the_customers_own_booklet(client, province):  # noqa: F811
    customer = activated(province["jinan"])
    page = as_user(client, province["clerk"], "get", f"/customers/{customer.msisdn}/")
    assert f"/customers/{customer.msisdn}/booklet.pdf" in page.content.decode()

    pdf = as_user(client, province["clerk"], "get", f"/customers/{customer.msisdn}/booklet.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and customer.msisdn[-4:] in pdf["Content-Disposition"]


def test_handing_it_over_is_recorded_once_and_shown_on_the_page(client, province):  # noqa: F811
    customer = activated(province["jinan"])
    done = as_user(client, province["clerk"], "post", f"/customers/{customer.msisdn}/booklet/handed/", follow=True)
    assert "服务指南已递交" in " ".join(messages_of(done))
    handed = BookletHandover.objects.get(customer=customer)
    assert handed.handed_over_by == province["clerk"] and handed.handed_at == NOW
    assert handed.journey_action_codes  # the acts whose delivery the booklet is
    page = as_user(client, province["clerk"], "get", f"/customers/{customer.msisdn}/").content.decode()
    assert "已于" in page and "已递交给客户" not in page  # the record, not the button


def test_another_citys_clerk_gets_404_for_the_booklet_and_the_hand_over(client, province):  # noqa: F811
    customer = activated(province["jinan"])
    assert as_user(client, province["clerk_qd"], "get", f"/customers/{customer.msisdn}/booklet.pdf").status_code == 404
    posted = as_user(client, province["clerk_qd"], "post", f"/customers/{customer.msisdn}/booklet/handed/")
    assert posted.status_code == 404 and not BookletHandover.objects.exists()
