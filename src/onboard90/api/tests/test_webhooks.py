"""Webhooks out: a system account subscribes a URL; the events are written in the transaction of the change
(set-based for the cycle's bulk work, and only when someone subscribed), scoped to the account's key,
delivered signed to a receiver on loopback, retried with backoff on the explicit clock while the receiver
is down — nothing lost, and a duplicate only ever with the same id and body — and every attempt logged."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from onboard90 import testing as builders
from onboard90.api import webhooks
from onboard90.api.models import WebhookAttempt, WebhookEvent, WebhookStatus
from onboard90.api.tests.test_events import activation
from onboard90.api.tests.test_reads_and_writes import DAY0, running_task
from onboard90.core import clock
from onboard90.customers.tests.files import NOW
from onboard90.journeys import cycle
from onboard90.journeys.enums import ActionStatus
from onboard90.journeys.models import Escalation, Journey, Task
from onboard90.messaging.enums import MessageStatus
from onboard90.messaging.gateways import PERMANENT, MemoryGateway
from onboard90.messaging.models import OutboxMessage

pytestmark = pytest.mark.django_db


# --- a receiver on loopback -----------------------------------------------------------------------------


class Receiver:
    """A threading HTTP server on 127.0.0.1 that keeps what it was sent; `answers` are the statuses it gives,
    in turn (the last one repeats). `stop()` takes it down; `start()` brings it back on the same port."""

    def __init__(self, answers=(204,)):
        self.answers = list(answers)
        self.received: list[dict] = []
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> Receiver:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.received.append({"headers": dict(self.headers), "body": body})
                status = owner.answers.pop(0) if len(owner.answers) > 1 else owner.answers[0]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver():
    made = Receiver().start()
    yield made
    made.stop()


def subscribe(key_client, url: str, *events: str) -> webhooks.NewSubscription:
    return webhooks.webhook_add(name=key_client.key.name, url=url, event_types=events or ("all",))


def events_of(sub, event_type: str | None = None):
    rows = WebhookEvent.objects.filter(subscription=sub.subscription)
    return rows.filter(event_type=event_type) if event_type else rows


def run_days(days: int) -> None:
    for day in range(days):
        cycle.cycle_run(as_of=clock.cycle_instant(DAY0 + dt.timedelta(days=day)), dispatch=False)


@pytest.fixture
def two_cities(province):
    jinan = builders.customer(city_obj=province.jinan, activated_on=DAY0, msisdn="18600001234", name="张三")
    qingdao = builders.customer(city_obj=province.qingdao, activated_on=DAY0, msisdn="18600005678")
    return jinan, qingdao


# --- the outbox -----------------------------------------------------------------------------------------


def test_without_a_subscription_the_cycle_writes_no_events(two_cities):
    run_days(7)
    assert Task.objects.exists() and Escalation.objects.exists()
    assert not WebhookEvent.objects.exists()


def test_the_cycles_tasks_overdue_and_escalations_reach_the_subscribers_in_their_scope(
    two_cities, bss, jinan_key
):
    everything = subscribe(bss, "http://127.0.0.1:9/all")
    jinan_only = subscribe(jinan_key, "http://127.0.0.1:9/jinan", "task.created", "escalation.created")
    run_days(7)

    tasks = Task.objects.all()
    assert sorted(events_of(everything, "task.created").values_list("object_id", flat=True)) == sorted(
        tasks.values_list("pk", flat=True)
    )
    jinan_tasks = tasks.filter(owner_unit__city__code="jinan")
    assert sorted(events_of(jinan_only, "task.created").values_list("object_id", flat=True)) == sorted(
        jinan_tasks.values_list("pk", flat=True)
    )
    overdue = Task.objects.exclude(status=ActionStatus.OPEN).filter(escalation__isnull=False)
    assert overdue.exists()
    assert set(events_of(everything, "task.overdue").values_list("object_id", flat=True)) == set(
        Task.objects.filter(escalation__reason="overdue").values_list("pk", flat=True)
    )
    assert set(events_of(jinan_only, "escalation.created").values_list("object_id", flat=True)) == set(
        Escalation.objects.filter(unit__city__code="jinan").values_list("pk", flat=True)
    )
    assert not events_of(jinan_only, "task.overdue").exists()  # not subscribed
    created = events_of(everything, "task.created").first()
    assert created.status == WebhookStatus.PENDING and created.data is None and created.attempts == 0


def test_running_the_same_day_again_writes_no_event_twice(two_cities, bss):
    sub = subscribe(bss, "http://127.0.0.1:9/all")
    run_days(7)
    before = events_of(sub).count()
    cycle.cycle_run(as_of=clock.cycle_instant(DAY0 + dt.timedelta(days=6)), dispatch=False)
    assert events_of(sub).count() == before


def test_a_completion_writes_its_event_in_its_transaction_and_not_when_it_rolls_back(
    two_cities, bss, store_key
):
    sub = subscribe(bss, "http://127.0.0.1:9/all", "task.completed")
    run_days(1)
    task = running_task(two_cities[0])

    class Undo(Exception):
        pass

    from onboard90.api.auth import key_account
    from onboard90.journeys import services as work

    with pytest.raises(Undo), transaction.atomic():
        work.task_complete(task=task, outcome="reached", completed_by=key_account(store_key.key), now=NOW)
        assert events_of(sub, "task.completed").count() == 1
        raise Undo
    assert not events_of(sub, "task.completed").exists()

    answer = store_key.post(f"/api/v1/tasks/{task.pk}/complete", {"outcome": "reached"}, format="json")
    assert answer.status_code == 200
    event = events_of(sub, "task.completed").get()
    assert event.object_id == task.pk and event.occurred_at == Task.objects.get(pk=task.pk).completed_at


def test_an_unanswered_attempt_is_not_a_completion(two_cities, bss, store_key):
    sub = subscribe(bss, "http://127.0.0.1:9/all", "task.completed")
    run_days(1)
    task = running_task(two_cities[0])
    Task.objects.filter(pk=task.pk).update(max_attempts=2)
    store_key.post(f"/api/v1/tasks/{task.pk}/complete", {"outcome": "no_answer"}, format="json")
    assert not events_of(sub).exists()


def test_a_cancellation_exits_the_journey_and_a_finished_one_completes(province, bss):
    sub = subscribe(bss, "http://127.0.0.1:9/all", "journey.exited", "journey.completed")
    bss.post("/api/v1/events", activation("18600000001", "bss-1"), format="json")
    bss.post(
        "/api/v1/events",
        {
            "type": "cancellation",
            "msisdn": "18600000001",
            "at": "2012-04-20 09:00",
            "idempotency_key": "bss-2",
        },
        format="json",
    )
    exited = Journey.objects.get(customer__msisdn="18600000001")
    assert list(events_of(sub, "journey.exited").values_list("object_id", flat=True)) == [exited.pk]

    old = builders.customer(city_obj=province.jinan, activated_on=dt.date(2012, 2, 1))
    cycle.cycle_run(as_of=clock.cycle_instant(dt.date(2012, 5, 20)), dispatch=False)
    finished = Journey.objects.get(customer=old)
    assert finished.status == "completed"
    assert list(events_of(sub, "journey.completed").values_list("object_id", flat=True)) == [finished.pk]


def test_a_message_the_gateway_refuses_is_an_sms_failed_event(two_cities, bss):
    from onboard90.messaging.services import outbox_dispatch_due

    sub = subscribe(bss, "http://127.0.0.1:9/all", "sms.failed")
    run_days(1)
    queued = OutboxMessage.objects.filter(status=MessageStatus.QUEUED)
    assert queued.exists()
    numbers = set(queued.values_list("msisdn", flat=True))
    gateway = MemoryGateway(fates=dict.fromkeys(numbers, PERMANENT))
    at = clock.at_local(DAY0, 10, 30)
    outbox_dispatch_due(as_of=at, gateway=gateway, now=lambda: at)
    failed = OutboxMessage.objects.filter(status=MessageStatus.FAILED)
    assert failed.exists()
    assert sorted(events_of(sub).values_list("object_id", flat=True)) == sorted(
        failed.values_list("pk", flat=True)
    )


# --- delivery -------------------------------------------------------------------------------------------


def test_a_delivery_is_signed_and_the_signature_verifies(two_cities, bss, receiver):
    sub = subscribe(bss, receiver.url, "task.created")
    run_days(1)
    expected = events_of(sub).count()
    at = clock.at_local(dt.date(2012, 5, 20), 12)
    counts = webhooks.webhooks_deliver(now=at)
    assert counts == {"delivered": expected, "retried": 0, "failed": 0}
    assert len(receiver.received) == expected
    first = receiver.received[0]
    headers, body = first["headers"], first["body"]
    assert headers["X-Onboard90-Event"] == "task.created"
    assert headers["X-Onboard90-Timestamp"] == str(int(at.timestamp()))
    assert webhooks.verify(
        sub.secret, headers["X-Onboard90-Timestamp"], body, headers["X-Onboard90-Signature"], now=at
    )
    assert not webhooks.verify(
        sub.secret, headers["X-Onboard90-Timestamp"], body + b" ", headers["X-Onboard90-Signature"], now=at
    )
    assert not webhooks.verify(  # replayed ten minutes later: refused by the timestamp
        sub.secret,
        headers["X-Onboard90-Timestamp"],
        body,
        headers["X-Onboard90-Signature"],
        now=at + dt.timedelta(minutes=10),
    )
    document = json.loads(body)
    assert document["id"] == int(headers["X-Onboard90-Delivery"]) and document["type"] == "task.created"
    assert document["data"]["masked_msisdn"].count("*") == 4
    assert set(events_of(sub).values_list("status", flat=True)) == {WebhookStatus.DELIVERED}
    assert WebhookAttempt.objects.filter(ok=True, status_code=204).count() == expected


def test_a_receiver_that_is_down_and_comes_back_loses_nothing_and_retries_on_the_backoff(two_cities, bss):
    receiver = Receiver()  # not started: connections are refused
    sub = subscribe(bss, receiver.url, "task.created")
    run_days(1)
    ids = set(events_of(sub).values_list("pk", flat=True))
    t0 = clock.at_local(dt.date(2012, 5, 20), 12)

    assert webhooks.webhooks_deliver(now=t0)["retried"] == len(ids)
    assert set(events_of(sub).values_list("next_attempt_at", flat=True)) == {t0 + dt.timedelta(minutes=1)}
    assert webhooks.webhooks_deliver(now=t0 + dt.timedelta(seconds=59)) == {
        "delivered": 0,
        "retried": 0,
        "failed": 0,
    }
    webhooks.webhooks_deliver(now=t0 + dt.timedelta(minutes=1))
    assert set(events_of(sub).values_list("next_attempt_at", flat=True)) == {t0 + dt.timedelta(minutes=3)}
    assert set(events_of(sub).values_list("attempts", flat=True)) == {2}
    attempt = WebhookAttempt.objects.filter(event_id=min(ids)).order_by("number").first()
    assert attempt.status_code is None and not attempt.ok and attempt.error

    receiver.answers = [500, 200]  # back, but the first answer fails after the receiver saw the event
    receiver.start()
    try:
        webhooks.webhooks_deliver(now=t0 + dt.timedelta(minutes=3))
        webhooks.webhooks_deliver(now=t0 + dt.timedelta(minutes=7))
    finally:
        receiver.stop()
    assert set(events_of(sub).values_list("status", flat=True)) == {WebhookStatus.DELIVERED}
    seen = [int(r["headers"]["X-Onboard90-Delivery"]) for r in receiver.received]
    assert set(seen) == ids  # nothing lost
    duplicated = [r for r in receiver.received if seen.count(int(r["headers"]["X-Onboard90-Delivery"])) > 1]
    assert len(duplicated) == 2 and duplicated[0]["body"] == duplicated[1]["body"]  # same id, same body


def test_an_event_is_given_up_after_the_last_attempt(two_cities, bss):
    sub = subscribe(bss, "http://127.0.0.1:9/never", "escalation.created")
    run_days(7)
    event = events_of(sub).first()
    attempts = []

    def refuse(url, body, headers, timeout):
        attempts.append(headers["X-Onboard90-Delivery"])
        return webhooks.Answer(503, "HTTP 503")

    at = clock.at_local(dt.date(2012, 5, 20), 12)
    for _ in range(webhooks.MAX_ATTEMPTS + 2):
        webhooks.webhooks_deliver(now=at, post=refuse)
        at = WebhookEvent.objects.get(pk=event.pk).next_attempt_at
    event.refresh_from_db()
    assert event.status == WebhookStatus.FAILED and event.attempts == webhooks.MAX_ATTEMPTS
    assert WebhookAttempt.objects.filter(event=event).count() == webhooks.MAX_ATTEMPTS
    gaps = [webhooks.backoff(n) for n in range(1, 12)]
    assert gaps[:4] == [dt.timedelta(minutes=m) for m in (1, 2, 4, 8)] and gaps[-1] == webhooks.BACKOFF_CAP


# --- administration -------------------------------------------------------------------------------------


def test_the_administrator_adds_lists_and_removes_subscriptions(province, bss, capsys):
    call_command("webhooks", "add", "bss", "https://crm.example/hooks", "--events", "task.created,sms.failed")
    out = capsys.readouterr().out
    secret = out.split("signing secret: ")[1].split()[0]
    assert len(secret) == 64
    call_command("webhooks", "list", "--json")
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["event_types"] == ["sms.failed", "task.created"] and secret not in json.dumps(rows)
    call_command("webhooks", "remove", str(rows[0]["id"]))
    assert "removed" in capsys.readouterr().out
    call_command("webhooks", "list", "--json")
    assert json.loads(capsys.readouterr().out)[0]["active"] is False


@pytest.mark.parametrize(
    "args",
    [
        ["nobody", "https://x.example/", "--events", "all"],
        ["bss", "ftp://x.example/", "--events", "all"],
        ["bss", "https://x.example/", "--events", "task.deleted"],
    ],
)
def test_a_bad_subscription_is_a_clear_error(province, bss, args):
    with pytest.raises(CommandError):
        call_command("webhooks", "add", *args)


def test_a_revoked_key_is_told_nothing(two_cities, jinan_key):
    from onboard90.api.services import apikey_revoke

    sub = subscribe(jinan_key, "http://127.0.0.1:9/jinan")
    apikey_revoke(name=jinan_key.key.name)
    run_days(2)
    assert not events_of(sub).exists()
