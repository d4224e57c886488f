"""Importing VIP ratings and bills: the first rating and the first bill become the anchors the plan's
VIP and first-bill acts run from; pre-paid numbers are neither rated nor billed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from onboard90.core import clock
from onboard90.customers import services
from onboard90.customers.enums import EventType
from onboard90.customers.models import Bill, Customer, CustomerEvent
from onboard90.customers.tests.files import NOW, customer_row, read_errors, world, write_csv

pytestmark = pytest.mark.django_db

VIP_HEADER = ["msisdn", "vip_level", "rated_at"]
BILL_HEADER = ["msisdn", "bill_month", "issued_at", "amount"]


@pytest.fixture
def province(tmp_path):
    """The world plus two post-paid customers and one pre-paid, activated on 1 March 2012."""
    province = world()
    services.customers_import(
        path=write_csv(tmp_path / "customers.csv", [
            customer_row("18600000001"),
            customer_row("18600000002"),
            customer_row("18600000003", product="prepaid", package_code="P19"),
        ]),
        now=NOW,
    )
    return province


def customer(msisdn: str) -> Customer:
    return Customer.objects.get(msisdn=msisdn)


def test_vip_file_rates_customers_and_the_first_rating_is_the_anchor(province, tmp_path):
    path = write_csv(tmp_path / "vip.csv", [
        {"msisdn": "18600000001", "vip_level": "金卡", "rated_at": "2012-03-12 08:00"},
        {"msisdn": "18600000002", "vip_level": "1", "rated_at": "2012-03-20"},
    ], header=VIP_HEADER)

    result = services.vip_import(path=path, now=NOW)

    assert (result.total, result.created, result.rejected, result.exit_code) == (2, 2, 0, 0)
    first = customer("18600000001")
    assert first.vip_tier == province.tiers["gold"] and first.vip_rated_on == dt.date(2012, 3, 12)
    assert first.vip_rated_at == clock.at_local(dt.date(2012, 3, 12), 8)
    assert customer("18600000002").vip_tier == province.tiers["diamond"]
    event = CustomerEvent.objects.get(customer=first, type=EventType.VIP_RATED)
    assert event.idempotency_key == "vip_rated:18600000001:2012-03-12T08:00:00+08:00"
    assert event.payload == {"vip_level": "gold", "previous": None}

    upgrade = write_csv(tmp_path / "vip-april.csv", [
        {"msisdn": "18600000001", "vip_level": "diamond", "rated_at": "2012-04-12"},
    ], header=VIP_HEADER)
    result = services.vip_import(path=upgrade, now=NOW)

    first = customer("18600000001")
    assert result.updated == 1 and first.vip_tier == province.tiers["diamond"]
    assert first.vip_rated_on == dt.date(2012, 3, 12)  # the VIP clocks keep running from the first rating
    assert CustomerEvent.objects.filter(customer=first, type=EventType.VIP_RATED).count() == 2


def test_reimporting_the_vip_file_changes_nothing(province, tmp_path):
    path = write_csv(tmp_path / "vip.csv", [
        {"msisdn": "18600000001", "vip_level": "gold", "rated_at": "2012-03-12"},
    ], header=VIP_HEADER)
    services.vip_import(path=path, now=NOW)
    events = CustomerEvent.objects.count()

    result = services.vip_import(path=path, now=NOW)

    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)
    assert CustomerEvent.objects.count() == events


def test_vip_rows_for_prepaid_unknown_or_unrated_numbers_are_rejected(province, tmp_path):
    path = write_csv(tmp_path / "vip.csv", [
        {"msisdn": "18600000003", "vip_level": "gold", "rated_at": "2012-03-12"},
        {"msisdn": "18699999999", "vip_level": "gold", "rated_at": "2012-03-12"},
        {"msisdn": "18600000001", "vip_level": "platinum", "rated_at": "2012-03-12"},
        {"msisdn": "18600000001", "vip_level": "gold", "rated_at": "2012-02-01"},
        {"msisdn": "18600000001", "vip_level": "gold", "rated_at": "2012-07-01"},
        {"msisdn": "18600000002", "vip_level": "silver", "rated_at": "2012-03-31"},
    ], header=VIP_HEADER)

    result = services.vip_import(path=path, now=NOW)

    assert (result.created, result.rejected, result.exit_code) == (1, 5, 3)
    reasons = [error["reason"] for error in read_errors(tmp_path / "vip.errors.csv")]
    assert "prepaid customers are not VIP-rated" in reasons[0]
    assert reasons[1] == "未知号码(客户不存在) / unknown customer: 18699999999"
    assert "VIP tier 白金卡 (platinum) is disabled" in reasons[2]
    assert "rated_at is before activation" in reasons[3]
    assert "rated_at is in the future" in reasons[4]
    assert not customer("18600000003").is_vip and not customer("18600000001").is_vip


def test_bills_file_records_bills_and_the_earliest_sets_the_first_bill_anchor(province, tmp_path):
    path = write_csv(tmp_path / "bills.csv", [
        {"msisdn": "18600000001", "bill_month": "2012-04", "issued_at": "2012-05-03 07:00", "amount": "71.20"},
        {"msisdn": "18600000001", "bill_month": "201203", "issued_at": "2012-04-03 07:00", "amount": "58.5"},
        {"msisdn": "18600000002", "bill_month": "2012-03", "issued_at": "2012-04-03", "amount": "66"},
    ], header=BILL_HEADER)

    result = services.bills_import(path=path, now=NOW)

    assert (result.created, result.rejected) == (3, 0)
    first = customer("18600000001")
    assert first.first_bill_at == clock.at_local(dt.date(2012, 4, 3), 7) and first.first_bill_on == dt.date(2012, 4, 3)
    assert dict(first.bills.values_list("bill_month", "amount")) == {
        "2012-03": Decimal("58.50"), "2012-04": Decimal("71.20"),
    }
    assert customer("18600000002").first_bill_on == dt.date(2012, 4, 3)
    assert CustomerEvent.objects.filter(type=EventType.BILL_ISSUED).count() == 3


def test_the_same_bill_again_is_no_change_and_a_corrected_amount_is_an_update(province, tmp_path):
    rows = [{"msisdn": "18600000001", "bill_month": "2012-03", "issued_at": "2012-04-03", "amount": "58.50"}]
    path = write_csv(tmp_path / "bills.csv", rows, header=BILL_HEADER)
    services.bills_import(path=path, now=NOW)

    again = services.bills_import(path=path, now=NOW)
    assert (again.created, again.unchanged) == (0, 1)
    assert CustomerEvent.objects.filter(type=EventType.BILL_ISSUED).count() == 1

    rows[0].update(amount="60.00", issued_at="2012-04-04")
    corrected = services.bills_import(path=write_csv(tmp_path / "fix.csv", rows, header=BILL_HEADER), now=NOW)

    bill = Bill.objects.get(customer__msisdn="18600000001", bill_month="2012-03")
    assert corrected.updated == 1 and bill.amount == Decimal("60.00") and Bill.objects.count() == 1
    update = CustomerEvent.objects.filter(type=EventType.BILL_ISSUED).order_by("id").last()
    assert update.payload == {"bill_month": "2012-03", "amount": "60.00", "previous_amount": "58.50"}
    assert customer("18600000001").first_bill_on == dt.date(2012, 4, 3)  # the anchor stays the first issue


def test_bills_for_prepaid_or_unknown_numbers_and_bad_values_are_rejected(province, tmp_path):
    path = write_csv(tmp_path / "bills.csv", [
        {"msisdn": "18600000003", "bill_month": "2012-03", "issued_at": "2012-04-03", "amount": "19"},
        {"msisdn": "18699999999", "bill_month": "2012-03", "issued_at": "2012-04-03", "amount": "19"},
        {"msisdn": "18600000001", "bill_month": "2012-13", "issued_at": "2012-04-03", "amount": "19"},
        {"msisdn": "18600000001", "bill_month": "2012-03", "issued_at": "2012-04-03", "amount": "-5"},
        {"msisdn": "18600000001", "bill_month": "2012-03", "issued_at": "2012-04-31", "amount": "5"},
        {"msisdn": "18600000002", "bill_month": "2012-03", "issued_at": "2012-04-03", "amount": "¥66.00"},
    ], header=BILL_HEADER)

    result = services.bills_import(path=path, now=NOW)

    assert (result.created, result.rejected) == (1, 5)
    reasons = [error["reason"] for error in read_errors(tmp_path / "bills.errors.csv")]
    assert reasons == [
        "预付费客户没有账单 / prepaid customers have no bills",
        "未知号码(客户不存在) / unknown customer: 18699999999",
        "账期格式错误 / bill_month must be YYYY-MM: 2012-13",
        "金额错误 / amount must be a non-negative number: -5",
        "出账时间不是有效日期 / issued_at is not a real date: 2012-04-31",
    ]
    assert customer("18600000001").first_bill_on is None


def test_single_acts_used_by_the_api_share_the_import_rules(province):
    first = customer("18600000001")

    assert services.customer_rate_vip(
        customer=first, tier=province.tiers["gold"], rated_at=clock.at_local(dt.date(2012, 3, 5), 9)
    ) == "created"
    assert services.customer_record_bill(
        customer=first, bill_month="2012-03", amount="58.50", issued_at=clock.at_local(dt.date(2012, 4, 3), 7)
    ) == "created"
    assert services.customer_change_number(
        customer=first, previous_msisdn="13012345678", at=clock.at_local(dt.date(2012, 3, 1), 11)
    ) == "updated"

    first.refresh_from_db()
    assert first.vip_rated_on == dt.date(2012, 3, 5) and first.first_bill_on == dt.date(2012, 4, 3)
    assert first.number_changed and first.previous_msisdn == "13012345678"
    with pytest.raises(services.RowError, match="prepaid customers are not VIP-rated"):
        services.customer_rate_vip(
            customer=customer("18600000003"), tier=province.tiers["gold"], rated_at=clock.at_local(dt.date(2012, 3, 5))
        )
    with pytest.raises(services.RowError, match="is disabled"):
        services.customer_rate_vip(customer=first, tier=province.tiers["platinum"], rated_at=NOW)
