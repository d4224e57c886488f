"""Event intake: the BSS pushes what happened, one event or a batch; the same validation and services as
the events file, so the same events through either leave the same customers and journeys; replays change
nothing, a reused key with another body is refused, a bad event changes nothing, and an event outside the
caller's scope is refused like an unknown number."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from onboard90.customers import services
from onboard90.customers.enums import CustomerStatus, EventType
from onboard90.customers.models import Bill, Customer, CustomerEvent
from onboard90.customers.tests.files import NOW, write_jsonl
from onboard90.journeys.models import Journey

pytestmark = pytest.mark.django_db


def activation(msisdn: str, key: str, **fields):
    return {
        "type": "activation",
        "msisdn": msisdn,
        "at": "2012-03-01 10:00",
        "idempotency_key": key,
        "city": "济南",
        "product": "postpaid",
        "package_code": "A66",
        **fields,
    }


STORY = [
    activation("18600000001", "bss-1", name="张三"),
    activation("18600000002", "bss-2", city="青岛", store_code=""),
    {
        "type": "vip_rated",
        "msisdn": "18600000001",
        "at": "2012-03-05 08:00",
        "idempotency_key": "bss-3",
        "vip_level": "金卡",
    },
    {
        "type": "number_changed",
        "msisdn": "18600000001",
        "at": "2012-03-01 11:00",
        "idempotency_key": "bss-4",
        "previous_msisdn": "13012345678",
    },
    {
        "type": "bill_issued",
        "msisdn": "18600000001",
        "at": "2012-04-03 07:00",
        "idempotency_key": "bss-5",
        "bill_month": "2012-03",
        "amount": 58.5,
    },
    {"type": "opt_out", "msisdn": "18600000002", "at": "2012-03-10 12:00", "idempotency_key": "bss-6"},
    {"type": "port_out", "msisdn": "18600000002", "at": "2012-04-20 09:00", "idempotency_key": "bss-7"},
    {
        "type": "vip_rated",
        "msisdn": "18600000001",
        "at": "2012-03-05 08:00",
        "idempotency_key": "bss-8",
        "vip_level": "tin",
    },
    {"type": "cancellation", "msisdn": "18699999999", "at": "2012-04-20 09:00", "idempotency_key": "bss-9"},
    activation("18600000003", "bss-10", activated_at="2011-01-01"),
]


def snapshot() -> dict:
    """Customers, their facts and journeys row for row, without ids, stamps or the sender's name."""
    return {
        "customers": sorted(
            Customer.objects.values_list(
                "msisdn",
                "name",
                "city__code",
                "store__code",
                "activated_at",
                "product",
                "package__code",
                "vip_tier__code",
                "vip_rated_at",
                "previous_msisdn",
                "number_changed",
                "marketing_opt_out",
                "first_bill_at",
                "status",
                "cancelled_at",
            )
        ),
        "events": sorted(CustomerEvent.objects.values_list("msisdn", "type", "at", "idempotency_key")),
        "bills": sorted(Bill.objects.values_list("customer__msisdn", "bill_month", "amount", "issued_at")),
        "journeys": sorted(
            Journey.objects.values_list(
                "customer__msisdn", "playbook_version__number", "status", "started_at", "closed_at"
            )
        ),
    }


class _Undo(Exception):
    pass


def test_the_same_events_through_the_file_and_the_api_leave_the_same_rows(province, bss, tmp_path):
    try:
        with transaction.atomic():
            result = services.events_import(path=write_jsonl(tmp_path / "events.jsonl", STORY), now=NOW)
            through_file = snapshot()
            raise _Undo
    except _Undo:
        pass
    assert (result.total, result.rejected) == (10, 3) and not Customer.objects.exists()

    answer = bss.post("/api/v1/events", {"events": STORY}, format="json")

    assert answer.status_code == 200
    assert snapshot() == through_file
    statuses = [r["status"] for r in answer.json()["results"]]
    assert statuses == [
        "created",
        "created",
        "created",
        "updated",
        "created",
        "updated",
        "updated",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert answer.json()["counts"] == {"created": 4, "updated": 3, "rejected": 3}
    errors = [r["errors"] for r in answer.json()["results"][7:]]
    assert (
        list(errors[0]) == ["vip_level"]
        and list(errors[1]) == ["msisdn"]
        and list(errors[2]) == ["activated_at"]
    )
    ported = Customer.objects.get(msisdn="18600000002")
    assert ported.status == CustomerStatus.CANCELLED and ported.marketing_opt_out
    assert CustomerEvent.objects.get(idempotency_key="bss-7").type == EventType.PORT_OUT
    assert CustomerEvent.objects.get(idempotency_key="bss-6").type == EventType.MARKETING_OPT_OUT


def test_one_event_is_created_once_and_its_replay_gets_the_first_answer(province, bss):
    event = activation("18600000001", "bss-1")
    first = bss.post("/api/v1/events", event, format="json")
    again = bss.post("/api/v1/events", event, format="json")
    assert first.status_code == 201 and first.json()["status"] == "created"
    assert again.status_code == 201 and again.json() == {**first.json(), "replayed": True}
    assert (
        Customer.objects.count() == 1 and CustomerEvent.objects.filter(idempotency_key="bss-1").count() == 1
    )


def test_the_same_key_with_another_body_is_refused_and_changes_nothing(province, bss):
    bss.post("/api/v1/events", activation("18600000001", "bss-1"), format="json")
    other = bss.post("/api/v1/events", activation("18600000001", "bss-1", name="李四"), format="json")
    assert other.status_code == 422 and "idempotency_key" in other.json()["errors"]
    assert Customer.objects.get().name == ""


def test_a_request_key_replays_the_whole_answer_and_refuses_another_body(province, bss):
    body = {"events": [activation("18600000001", "bss-1"), activation("18600000002", "bss-2")]}
    first = bss.post("/api/v1/events", body, format="json", HTTP_IDEMPOTENCY_KEY="nightly-1")
    again = bss.post("/api/v1/events", body, format="json", HTTP_IDEMPOTENCY_KEY="nightly-1")
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    other = bss.post(
        "/api/v1/events", {"events": body["events"][:1]}, format="json", HTTP_IDEMPOTENCY_KEY="nightly-1"
    )
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]


def test_a_bad_event_is_422_with_a_message_per_field_and_changes_nothing(province, bss):
    answer = bss.post("/api/v1/events", {"type": "activation", "msisdn": "123"}, format="json")
    assert answer.status_code == 422
    assert set(answer.json()["errors"]) == {"at", "idempotency_key"}
    assert not Customer.objects.exists() and not CustomerEvent.objects.exists()


@pytest.mark.parametrize("body", [[1, 2], "text", {"events": []}, {"events": "x"}])
def test_a_body_that_is_not_an_event_is_a_clear_400(province, bss, body):
    answer = bss.post("/api/v1/events", body, format="json")
    assert answer.status_code == 400 and answer.json()


def test_events_outside_the_callers_city_are_refused_like_unknown_numbers(province, bss, qingdao_key):
    bss.post("/api/v1/events", activation("18600000001", "bss-1"), format="json")  # a 济南 customer
    answer = qingdao_key.post(
        "/api/v1/events",
        {
            "events": [
                {
                    "type": "cancellation",
                    "msisdn": "18600000001",
                    "at": "2012-04-20",
                    "idempotency_key": "qd-1",
                },
                {
                    "type": "cancellation",
                    "msisdn": "18600000077",
                    "at": "2012-04-20",
                    "idempotency_key": "qd-2",
                },
                activation("18600000002", "qd-3"),
                activation("18600000003", "qd-4", city="青岛"),
            ]
        },
        format="json",
    )
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "rejected", "rejected", "created"]
    unknown, missing = results[0]["errors"]["msisdn"][0], results[1]["errors"]["msisdn"][0]
    assert unknown.replace("18600000001", "N") == missing.replace("18600000077", "N")
    assert Customer.objects.get(msisdn="18600000001").status == CustomerStatus.ACTIVE
    assert not Customer.objects.filter(msisdn="18600000002").exists()
    assert Customer.objects.get(msisdn="18600000003").city.code == "qingdao"


def test_a_batch_of_more_than_1000_is_refused_whole(province, bss):
    answer = bss.post(
        "/api/v1/events", {"events": [activation(f"186{i:08d}", f"k{i}") for i in range(1001)]}, format="json"
    )
    assert answer.status_code == 400 and not Customer.objects.exists()


def test_the_intake_is_audited_in_the_system_accounts_name_on_the_api_channel(province, bss):
    from onboard90.core.models import AuditEntry

    bss.post("/api/v1/events", activation("18600000001", "bss-1"), format="json")
    entry = AuditEntry.objects.get(verb="customer.events")
    assert (entry.actor_label, entry.channel, entry.after["created"]) == ("api:bss", "api", 1)
    assert dt.datetime.fromisoformat(str(entry.at)).year == 2012


def usage(msisdn: str, key: str, day: str = "2012-05-10", **fields):
    return {
        "type": "usage_daily",
        "msisdn": msisdn,
        "date": day,
        "voice_min": 42,
        "data_mb": 118.4,
        "sms": 3,
        "idempotency_key": key,
        **fields,
    }


def test_a_usage_day_goes_through_usage_record_and_a_replay_changes_nothing(province, bss):
    from onboard90.usage.models import UsageDay, UsageMonth

    answer = bss.post(
        "/api/v1/events",
        {"events": [activation("18600000001", "bss-1"), usage("18600000001", "use-1")]},
        format="json",
    )
    assert [r["status"] for r in answer.json()["results"]] == ["created", "created"]
    day = UsageDay.objects.get()
    assert (day.voice_min, day.data_mb, day.sms, str(day.day)) == (42, 118, 3, "2012-05-10")
    again = bss.post("/api/v1/events", usage("18600000001", "use-1"), format="json")
    assert again.status_code == 201 and again.json()["replayed"] is True
    corrected = bss.post("/api/v1/events", usage("18600000001", "use-2", voice_min=50), format="json")
    assert corrected.status_code == 200 and corrected.json()["status"] == "updated"
    assert UsageDay.objects.get().voice_min == 50 and UsageMonth.objects.get().voice_min == 50  # replaced
    same = bss.post("/api/v1/events", usage("18600000001", "use-3", voice_min=50), format="json")
    assert same.json()["status"] == "unchanged"


def test_a_bad_usage_day_is_refused_with_the_usage_checks_reason_per_field(province, bss):
    from onboard90.usage.models import UsageDay

    bss.post("/api/v1/events", activation("18600000001", "bss-1"), format="json")
    answer = bss.post(
        "/api/v1/events",
        {
            "events": [
                usage("18600000001", "u-1", voice_min="lots"),
                usage("18600000001", "u-2", day="2099-01-01"),
                usage("18600000001", "u-3", day="2012-02-01"),
                usage("18699999999", "u-4"),
                usage("18600000001", "u-5", sms=True),
                usage("18600000001", "", sms=1),
            ]
        },
        format="json",
    )
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["rejected"] * 6
    assert [next(iter(r["errors"])) for r in results] == [
        "voice_min",
        "date",
        "date",
        "msisdn",
        "sms",
        "idempotency_key",
    ]
    assert "voice_min is not a number" in results[0]["errors"]["voice_min"][0]
    assert not UsageDay.objects.exists()


def test_a_usage_day_of_a_customer_outside_the_callers_city_is_refused_like_an_unknown_one(
    province, bss, qingdao_key, jinan_key
):
    from onboard90.usage.models import UsageDay

    bss.post("/api/v1/events", activation("18600000001", "bss-1"), format="json")  # a 济南 customer
    outside = qingdao_key.post("/api/v1/events", usage("18600000001", "qd-1"), format="json")
    unknown = qingdao_key.post("/api/v1/events", usage("18600000077", "qd-2"), format="json")
    assert outside.status_code == 422 and not UsageDay.objects.exists()
    assert outside.json()["errors"]["msisdn"][0].replace("18600000001", "N") == unknown.json()["errors"][
        "msisdn"
    ][0].replace("18600000077", "N")
    inside = jinan_key.post("/api/v1/events", usage("18600000001", "jn-1"), format="json")
    assert inside.status_code == 201 and UsageDay.objects.count() == 1
