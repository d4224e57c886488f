"""The customer admin: numbers are masked in the list, and opening a customer's full record is audited."""

from __future__ import annotations

import datetime as dt

import pytest

from onboard90 import testing as builders
from onboard90.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_customer_list_masks_numbers_and_opening_one_is_audited(admin_client):
    builders.playbook_version()
    customer = builders.customer(msisdn="18612345678", activated_on=dt.date(2012, 3, 1))

    listing = admin_client.get("/admin/customers/customer/", {"vip": "no", "product": "postpaid"})

    assert listing.status_code == 200
    page = listing.content.decode()
    assert "186****5678" in page and "18612345678" not in page

    detail = admin_client.get(f"/admin/customers/customer/{customer.pk}/change/")

    assert detail.status_code == 200
    entry = AuditEntry.objects.get(verb="customer.view")
    assert entry.object_id == str(customer.pk) and entry.actor.is_superuser
