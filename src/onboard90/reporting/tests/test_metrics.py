"""运行指标: the figures `/metrics` reads from the database at each scrape — the last finished cycle, a running
one's pieces, the outbox's depth and its oldest due message, the running tasks — in a constant number of
statements, each on an index; and the workers' queue on the broker, left out when there is none to ask."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.journeys import cycle
from onboard90.journeys.enums import ActionStatus, CycleStatus
from onboard90.journeys.models import CyclePiece, CycleRun, Task
from onboard90.messaging.enums import MessageStatus
from onboard90.messaging.models import OutboxMessage
from onboard90.reporting import metrics

pytestmark = pytest.mark.django_db

DAY = dt.date(2012, 3, 1)
NOW = clock.at_local(DAY + dt.timedelta(days=1), 10)


@pytest.fixture(autouse=True)
def no_broker(settings):
    """No broker named, as in the embedded default (a test that wants one names it)."""
    settings.BROKER_CONFIGURED = False


def _run(day: dt.date, *, status=CycleStatus.FINISHED, seconds: float = 60.0, counts: dict | None = None) -> CycleRun:
    started = clock.cycle_instant(day)
    return CycleRun.objects.create(
        as_of=started, started_at=started, finished_at=started + dt.timedelta(seconds=seconds), status=status,
        counts=counts or {},
    )


def _message(customer, status: str, *, scheduled_at: dt.datetime) -> OutboxMessage:
    return OutboxMessage.objects.create(
        customer=customer, msisdn=customer.msisdn, message_class="service", text="您好", status=status,
        scheduled_at=scheduled_at, not_after=scheduled_at + dt.timedelta(days=1), created_at=scheduled_at,
    )


def _families(collector) -> dict[str, dict[tuple, float]]:
    """{family name: {label values: value}} of what a collector yields."""
    return {
        family.name: {tuple(sorted(sample.labels.items())): sample.value for sample in family.samples}
        for family in collector.collect()
    }


def test_the_last_finished_cycle_is_the_latest_business_day_with_its_duration_and_counts():
    _run(DAY, seconds=42.5, counts={"opened": 7, "sms_queued": 3, "tasks_created": 4, "overdue": 1, "escalated": 0})
    _run(DAY - dt.timedelta(days=1), seconds=10)  # a backfill recorded after it: an earlier business day
    _run(DAY + dt.timedelta(days=1), status=CycleStatus.FAILED, counts={"interrupted": True})

    last = metrics.metrics_reading(now=NOW)["last"]

    assert last["as_of"] == clock.cycle_instant(DAY)
    assert (last["finished_at"] - last["started_at"]).total_seconds() == 42.5
    families = _families(metrics.OperationsCollector())
    assert families["onboard90_cycle_last_duration_seconds"] == {(): 42.5}
    assert families["onboard90_cycle_last_as_of_timestamp_seconds"] == {(): clock.cycle_instant(DAY).timestamp()}
    assert families["onboard90_cycle_last_counts"] == {
        (("key", "escalated"),): 0, (("key", "opened"),): 7, (("key", "overdue"),): 1,
        (("key", "sms_queued"),): 3, (("key", "tasks_created"),): 4,
    }  # fmt: skip
    assert families["onboard90_cycle_running"] == {(): 0}
    assert "onboard90_cycle_running_pieces_done" not in families


def test_before_the_first_cycle_the_last_cycles_series_are_absent_not_zero():
    families = _families(metrics.OperationsCollector())
    assert not any(name.startswith("onboard90_cycle_last") for name in families)
    assert families["onboard90_database_up"] == {(): 1}


def test_a_running_cycle_reports_its_pieces_done_of_those_planned(province):
    builders.customer(city_obj=province["jinan"]["city"], activated_on=DAY)
    run = cycle.cycle_start(as_of=clock.cycle_instant(DAY))
    planned = list(CyclePiece.objects.filter(run=run).exclude(name="plan").values_list("name", flat=True))
    assert len(planned) >= 2
    cycle.piece_run(run_id=run.pk, name=cycle.stage_pieces(run_id=run.pk, stage=0)[0])

    running = metrics.metrics_reading(now=NOW)["running"]

    assert running == {
        "run_id": run.pk, "as_of": run.as_of, "started_at": run.started_at, "pieces_done": 1,
        "pieces_planned": len(planned),
    }  # fmt: skip
    families = _families(metrics.OperationsCollector())
    assert families["onboard90_cycle_running"] == {(): 1}
    assert families["onboard90_cycle_running_pieces_done"] == {(): 1}
    assert families["onboard90_cycle_running_pieces_planned"] == {(): len(planned)}


def test_the_outbox_depth_counts_the_waiting_statuses_and_the_oldest_due_message_has_waited_since_due(province):
    customer = builders.customer(city_obj=province["jinan"]["city"], activated_on=DAY, start_journey=False)
    for status, seconds in [
        (MessageStatus.QUEUED, -600), (MessageStatus.QUEUED, -60), (MessageStatus.QUEUED, 3600),
        (MessageStatus.SENDING, -30), (MessageStatus.UNCONFIRMED, -7200),
        (MessageStatus.SENT, -9000), (MessageStatus.SENT, -8000), (MessageStatus.FAILED, -10000),
    ]:  # fmt: skip
        _message(customer, status, scheduled_at=NOW + dt.timedelta(seconds=seconds))

    reading = metrics.metrics_reading(now=NOW)

    assert reading["outbox"] == {"queued": 3, "sending": 1, "unconfirmed": 1}
    assert reading["oldest_queued_seconds"] == 600.0
    # Tomorrow's messages, and tonight's held for the sending hours, are not late.
    assert metrics.metrics_reading(now=NOW - dt.timedelta(hours=1))["oldest_queued_seconds"] == 0.0


def test_an_empty_outbox_reports_every_waiting_status_at_zero():
    reading = metrics.metrics_reading(now=NOW)
    assert reading["outbox"] == {"queued": 0, "sending": 0, "unconfirmed": 0}
    assert reading["oldest_queued_seconds"] == 0.0


def test_the_running_tasks_are_counted_by_status_and_the_settled_ones_are_not(province):
    for _ in range(2):
        builders.customer(city_obj=province["jinan"]["city"], activated_on=DAY)
    cycle.cycle_run(as_of=clock.cycle_instant(DAY), gateway=province["gateway"])
    ids = list(Task.objects.order_by("pk").values_list("pk", flat=True))
    assert len(ids) >= 6
    Task.objects.update(status=ActionStatus.OPEN)
    Task.objects.filter(pk__in=ids[:2]).update(status=ActionStatus.OVERDUE)
    Task.objects.filter(pk__in=ids[2:5]).update(status=ActionStatus.DONE)

    assert metrics.metrics_reading(now=NOW)["tasks"] == {"open": len(ids) - 5, "overdue": 2}


def test_the_readings_statements_do_not_grow_with_the_rows(province):
    city = province["jinan"]["city"]
    builders.customer(city_obj=city, activated_on=DAY)
    cycle.cycle_run(as_of=clock.cycle_instant(DAY), gateway=province["gateway"])
    cycle.cycle_start(as_of=clock.cycle_instant(DAY + dt.timedelta(days=1)))  # one running, as at 09:00
    with CaptureQueriesContext(connection) as few:
        metrics.metrics_reading(now=NOW)

    customers = [builders.customer(city_obj=city, activated_on=DAY + dt.timedelta(days=1)) for _ in range(8)]
    for customer in customers:
        for status in (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT):
            _message(customer, status, scheduled_at=NOW)
    _run(DAY - dt.timedelta(days=2))
    with CaptureQueriesContext(connection) as many:
        reading = metrics.metrics_reading(now=NOW)

    assert reading["outbox"]["queued"] >= 8 and reading["running"] is not None
    assert len(many) == len(few) == 6


def test_without_a_named_broker_no_queue_is_asked_for(settings):
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"  # would fail, and is never tried
    families = _families(metrics.OperationsCollector())
    assert "onboard90_queue_messages" not in families and "onboard90_broker_up" not in families


def test_a_broker_that_does_not_answer_leaves_the_queue_out_and_the_scrape_goes_on(settings):
    settings.BROKER_CONFIGURED = True
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"  # nothing listens there
    began = time.monotonic()
    families = _families(metrics.OperationsCollector())
    assert time.monotonic() - began < 5
    assert families["onboard90_broker_up"] == {(): 0}
    assert "onboard90_queue_messages" not in families
    assert families["onboard90_database_up"] == {(): 1} and "onboard90_outbox_messages" in families


def test_a_database_that_does_not_answer_is_a_figure_not_a_failed_scrape(monkeypatch):
    def unreachable(**kwargs):
        raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr(metrics, "metrics_reading", unreachable)
    assert _families(metrics.OperationsCollector()) == {"onboard90_database_up": {(): 0}}


@pytest.mark.celery
def test_the_queue_length_is_the_jobs_waiting_on_the_broker(settings):
    import os

    from kombu import Connection, Queue

    url = os.environ.get("ONBOARD90_BROKER_URL", "").strip() or "amqp://guest:guest@127.0.0.1:5672//"
    name = f"onboard90-metrics-test-{uuid.uuid4().hex[:12]}"
    settings.BROKER_CONFIGURED, settings.CELERY_BROKER_URL, settings.CELERY_TASK_DEFAULT_QUEUE = True, url, name
    assert metrics.broker_queue_length(url=url, queue=name) == 0  # never declared: nothing waits in it
    # Publisher confirms: each publish returns once the broker holds the message, so the count read next is 3
    # (without them the broker may still be taking the last ones in when the collector asks).
    with Connection(url, transport_options={"confirm_publish": True}) as conn:
        queue = Queue(name, routing_key=name)
        producer = conn.Producer()
        for n in range(3):
            producer.publish({"n": n}, routing_key=name, declare=[queue])
    try:
        families = _families(metrics.OperationsCollector())
        assert families["onboard90_broker_up"] == {(): 1}
        assert families["onboard90_queue_messages"] == {(("queue", name),): 3}
    finally:
        with Connection(url) as conn:
            conn.default_channel.queue_delete(name)


@pytest.mark.postgres
def test_each_reading_is_served_by_an_index_on_postgresql(province):
    """With sequential scans priced out, each statement still has a plan: an index serves it (what the
    planner picks on a small test table says nothing; on a province's tables it takes these)."""
    builders.customer(city_obj=province["jinan"]["city"], activated_on=DAY)
    cycle.cycle_run(as_of=clock.cycle_instant(DAY), gateway=province["gateway"])
    cycle.cycle_start(as_of=clock.cycle_instant(DAY + dt.timedelta(days=1)))
    with CaptureQueriesContext(connection) as read:
        metrics.metrics_reading(now=NOW)
    assert len(read) == 6
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in read.captured_queries:
            cursor.execute("EXPLAIN " + query["sql"])
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Seq Scan" not in plan, (query["sql"], plan)
            assert "Index" in plan, plan
