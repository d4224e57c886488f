"""Importing events (JSON lines from BSS): each type changes the customer as the plan needs, in file order;
an event whose idempotency key is already known is ignored; a bad line is rejected with its reason."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from onboard90.core import clock
from onboard90.customers import services
from onboard90.customers.enums import CustomerStatus, EventType
from onboard90.customers.models import Customer, CustomerEvent
from onboard90.customers.tests.files import NOW, world, write_jsonl
from onboard90.journeys.enums import JourneyStatus
from onboard90.journeys.models import Journey

pytestmark = pytest.mark.django_db


@pytest.fixture
def province():
    return world()


def activation(msisdn: str, key: str, **fields):
    return {"type": "activation", "msisdn": msisdn, "at": "2012-03-01 10:00", "idempotency_key": key,
            "city": "济南", "product": "postpaid", "package_code": "A66", **fields}


def import_events(path):
    return services.events_import(path=path, now=NOW)


def test_each_event_type_changes_the_customer_in_file_order(province, tmp_path):
    path = write_jsonl(tmp_path / "events.jsonl", [
        activation("18600000001", "bss-1", name="张三"),
        {"type": "vip_rated", "msisdn": "18600000001", "at": "2012-03-05 08:00", "idempotency_key": "bss-2",
         "vip_level": "金卡"},
        {"type": "number_changed", "msisdn": "18600000001", "at": "2012-03-01 11:00", "idempotency_key": "bss-3",
         "previous_msisdn": "13012345678"},
        "",
        {"type": "bill_issued", "msisdn": "18600000001", "at": "2012-04-03 07:00", "idempotency_key": "bss-4",
         "bill_month": "2012-03", "amount": 58.5},
        {"type": "cancellation", "msisdn": "18600000001", "at": "2012-04-20 09:00", "idempotency_key": "bss-5",
         "reason": "moved abroad"},
    ])

    result = import_events(path)

    assert (result.total, result.created, result.updated, result.rejected, result.exit_code) == (5, 3, 2, 0, 0)
    customer = Customer.objects.get(msisdn="18600000001")
    assert customer.name == "张三" and customer.activated_at == clock.at_local(dt.date(2012, 3, 1), 10)
    assert customer.vip_tier == province.tiers["gold"] and customer.vip_rated_on == dt.date(2012, 3, 5)
    assert customer.number_changed and customer.previous_msisdn == "13012345678"
    assert customer.first_bill_on == dt.date(2012, 4, 3)
    assert customer.bills.get().amount == Decimal("58.50")
    assert customer.status == CustomerStatus.CANCELLED
    assert customer.cancelled_at == clock.at_local(dt.date(2012, 4, 20), 9)
    journey = Journey.objects.get(customer=customer)
    assert journey.status == JourneyStatus.EXITED and journey.closed_at == customer.cancelled_at
    assert list(customer.events.order_by("id").values_list("idempotency_key", "type")) == [
        ("bss-1", EventType.ACTIVATION), ("bss-2", EventType.VIP_RATED), ("bss-3", EventType.NUMBER_CHANGED),
        ("bss-4", EventType.BILL_ISSUED), ("bss-5", EventType.CANCELLATION),
    ]
    assert CustomerEvent.objects.get(idempotency_key="bss-5").payload == {"reason": "moved abroad"}


def test_cancellation_of_an_imported_customer_exits_the_journey(province, tmp_path):
    services.events_import(path=write_jsonl(tmp_path / "a.jsonl", [activation("18600000002", "act-2")]), now=NOW)
    assert Journey.objects.get(customer__msisdn="18600000002").status == JourneyStatus.ACTIVE

    result = import_events(write_jsonl(tmp_path / "b.jsonl", [
        {"type": "cancellation", "msisdn": "18600000002", "at": "2012-03-21T01:00:00Z", "idempotency_key": "c-2"},
    ]))

    customer = Customer.objects.get(msisdn="18600000002")
    assert result.updated == 1 and customer.status == CustomerStatus.CANCELLED
    assert customer.cancelled_at == clock.at_local(dt.date(2012, 3, 21), 9)
    assert Journey.objects.get(customer=customer).status == JourneyStatus.EXITED


def test_an_event_with_a_known_idempotency_key_is_ignored(province, tmp_path):
    first = write_jsonl(tmp_path / "first.jsonl", [
        activation("18600000003", "k-1"),
        {"type": "vip_rated", "msisdn": "18600000003", "at": "2012-03-05", "idempotency_key": "k-2",
         "vip_level": "gold"},
        # resent in the same file, this time with another tier: the key says it is the same event
        {"type": "vip_rated", "msisdn": "18600000003", "at": "2012-03-05", "idempotency_key": "k-2",
         "vip_level": "diamond"},
    ])
    assert import_events(first).duplicates == 1
    events = CustomerEvent.objects.count()

    again = import_events(first)

    assert (again.total, again.duplicates, again.created, again.updated, again.rejected) == (3, 3, 0, 0, 0)
    assert CustomerEvent.objects.count() == events
    assert Customer.objects.get(msisdn="18600000003").vip_tier == province.tiers["gold"]


def test_bad_lines_are_rejected_into_a_json_lines_error_file_and_good_lines_import(province, tmp_path):
    path = write_jsonl(tmp_path / "events.jsonl", [
        activation("18600000004", "ok-1"),
        '{"type": "cancellation", "msisdn": ',
        ["not", "an", "object"],
        {"type": "cancellation", "msisdn": "18600000004", "at": "2012-03-10"},
        {"type": "upgrade", "msisdn": "18600000004", "at": "2012-03-10", "idempotency_key": "x-1"},
        {"type": "cancellation", "msisdn": "18699999999", "at": "2012-03-10", "idempotency_key": "x-2"},
        {"type": "bill_issued", "msisdn": "18600000004", "at": "2012-04-03", "idempotency_key": "x-3",
         "bill_month": "2012-03"},
        activation("13800138000", "x-4"),
        {"type": "vip_rated", "msisdn": "18600000004", "at": "2012-03-05", "idempotency_key": "x-5",
         "vip_level": "铜卡"},
    ])

    result = import_events(path)

    assert (result.total, result.created, result.rejected, result.exit_code) == (9, 1, 8, 3)
    errors_path = tmp_path / "events.errors.jsonl"
    assert result.error_path == str(errors_path)
    errors = [json.loads(line) for line in errors_path.read_text(encoding="utf-8").splitlines()]
    assert [error["line"] for error in errors] == [2, 3, 4, 5, 6, 7, 8, 9]
    assert errors[0]["raw"] == '{"type": "cancellation", "msisdn": ' and "not valid JSON" in errors[0]["reason"]
    assert errors[1]["reason"] == "每行须为JSON对象 / each line must be a JSON object"
    assert errors[2]["reason"] == "缺少字段 / missing field(s): idempotency_key"
    assert errors[2]["type"] == "cancellation"  # the original object comes back, plus line and reason
    assert errors[3]["reason"].startswith("未知事件类型 / unknown event type: upgrade")
    assert errors[4]["reason"] == "未知号码(客户不存在) / unknown customer: 18699999999"
    assert errors[5]["reason"] == "缺少金额 / amount is empty"
    assert "not an 11-digit Unicom mobile number" in errors[6]["reason"]
    assert "unknown VIP level: 铜卡" in errors[7]["reason"]
    assert Customer.objects.get(msisdn="18600000004").status == CustomerStatus.ACTIVE


def test_an_activation_event_for_a_known_customer_updates_it(province, tmp_path):
    import_events(write_jsonl(tmp_path / "a.jsonl", [activation("18600000005", "a-1")]))

    result = import_events(write_jsonl(tmp_path / "b.jsonl", [activation("18600000005", "a-2", package_code="A96")]))

    assert result.updated == 1 and Customer.objects.get(msisdn="18600000005").package.code == "A96"
    event = CustomerEvent.objects.get(idempotency_key="a-2")
    assert event.type == EventType.CUSTOMER_UPDATED and event.payload["package"] == ["A66", "A96"]
    assert Journey.objects.filter(customer__msisdn="18600000005").count() == 1


def test_a_pushed_event_through_the_api_service_is_refused_with_the_same_reason(province):
    with pytest.raises(services.RowError, match="unknown customer: 18600000006"):
        services.customer_event_apply(
            event={"type": "cancellation", "msisdn": "18600000006", "at": "2012-03-10", "idempotency_key": "api-1"},
            now=NOW,
        )

    assert services.customer_event_apply(event=activation("18600000006", "api-2"), now=NOW) == "created"
    assert services.customer_event_apply(event=activation("18600000006", "api-2"), now=NOW) == "duplicate"
    assert Journey.objects.filter(customer__msisdn="18600000006").exists()
