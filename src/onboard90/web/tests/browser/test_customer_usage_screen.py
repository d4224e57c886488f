"""The customer page's usage, package fit and offer as a store clerk sees them on the store's tablet: the
verdict readable at a glance (what to recommend, how much it saves, why), the comparison table and the
charts drawn (no script error), the call-centre agent's call carrying the same verdict."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from onboard90.catalog.services import catalog_install
from onboard90.customers.models import Customer
from onboard90.usage.models import Offer, OfferChoice, UsageDay, UsageLoad, UsageMonth
from onboard90.usage.verdicts import package_fit_store, package_fit_verdicts
from onboard90.web.tests.browser import scenario

pytestmark = pytest.mark.browser


def test_the_clerk_reads_the_package_fit_verdict_and_the_usage_on_the_tablet(province, people):
    catalog_install()
    customer = Customer.objects.get(msisdn=scenario.CALLBACK)
    Customer.objects.filter(pk=customer.pk).update(package=customer.package.__class__.objects.get(code="A46"))
    load = UsageLoad.objects.create(source="test", rows=1)
    for month, voice, data in (("2012-04", 380, 120), ("2012-05", 420, 90)):
        UsageMonth.objects.create(customer=customer, month=month, voice_min=voice, data_mb=data, sms=12, days=30,
                                  load_id=load.pk)  # fmt: skip
    for n in range(12):
        UsageDay.objects.create(customer=customer, day=scenario.day(-11 + n), voice_min=12 + n, sms=1, load_id=load.pk,
                                data_mb=[3, 5, 2, 4, 6, 3, 2, 48, 5, 3, 4, 2][n])  # fmt: skip
    package_fit_store(verdicts=package_fit_verdicts([customer.pk], today=dt.date(2012, 6, 1)), today=dt.date(2012, 6, 1))
    # The offers are seeded by a migration, which a browser test's database (flushed between tests) may have lost.
    offer, _ = Offer.objects.get_or_create(code="data20", defaults={
        "name": "3G国内流量包20元", "kind": "data", "price": "20", "amount": 300, "trigger_percent": 80, "rank": 2,
        "pitch": "3G流量包20元含300M，发KT3GLL20到10010订购，次月生效。"})  # fmt: skip
    OfferChoice.objects.create(customer=customer, offer=offer, month="2012-03",
                               reason="首月流量折合每月约420MB，占套餐所含150MB的280%", as_of=scenario.TODAY,
                               made_at=scenario.NOW)  # fmt: skip

    clerk = people("clerk")
    clerk.open(f"/customers/{scenario.CALLBACK}/")
    usage = clerk.page.locator("#usage")
    expect(usage.get_by_text("套餐不合适")).to_be_visible()
    expect(usage.get_by_text("建议改用")).to_be_visible()
    expect(usage.locator("table.cu-fit-table:not(.cu-fit-all) tr.recommended")).to_be_visible()
    expect(usage.locator("table.cu-fit-all")).to_be_hidden()  # the other packages folded away
    expect(clerk.page.locator("#cu-chart-months svg")).to_have_count(1)
    expect(clerk.page.locator("#cu-chart-days svg")).to_have_count(1)
    usage.scroll_into_view_if_needed()
    clerk.shot("customer-usage", tablet=True, full=True)
