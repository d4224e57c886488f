"""运行指标: what `/metrics` tells Prometheus about the work itself, read from the database at each scrape —
the last finished daily cycle (its business day, how long it took, its counts), a cycle running now (its
pieces done of those planned), the outbox's depth by status and how long the oldest due message has waited,
the running tasks by status — and the length of the workers' queue on the broker.

Prometheus asks every 15 to 60 seconds, so each reading is one small statement on an index whatever the
number of customers (said beside each); `metrics_reading` makes the same six statements with ten rows on
file or ten million (a test counts them). The request figures (latency and count by view) are not here:
django-prometheus's middleware counts them as they happen (see `web.views.metrics`).

Nothing here may fail a scrape for want of a broker: the queue's length is asked only of a broker the
installation named (ONBOARD90_BROKER_URL), with a short timeout, and left out when it does not answer.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min, Q
from kombu import Connection
from prometheus_client.core import GaugeMetricFamily, Metric

from onboard90.core import clock
from onboard90.journeys.enums import RUNNING, CycleStatus
from onboard90.journeys.models import CyclePiece, CycleRun, Task
from onboard90.messaging.enums import MessageStatus
from onboard90.messaging.models import OutboxMessage

log = logging.getLogger("onboard90.reporting")

# The outbox's statuses a message leaves again (the final ones — sent, failed, missed, cancelled — only grow).
# An unconfirmed message waits for a delivery report or the dispatcher's reconciliation.
OUTBOX_WAITING = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.UNCONFIRMED)
# A broker that has not answered in this long is taken as down for this scrape (Prometheus waits 10 s).
BROKER_TIMEOUT_SECONDS = 1.0


def metrics_reading(*, now: dt.datetime) -> dict:
    """The database's figures for `/metrics` at `now`: six statements (five when no cycle is running).

    {"last": {as_of, started_at, finished_at, counts} | None, "running": {run_id, as_of, started_at,
    pieces_done, pieces_planned} | None, "outbox": {status: messages}, "oldest_queued_seconds": float,
    "tasks": {status: tasks}}
    """
    # The cycle records are one a day (a few thousand in ten years), read newest first on the `as_of` index.
    last = (
        CycleRun.objects.filter(status=CycleStatus.FINISHED)
        .order_by("-as_of", "-id")
        .values("as_of", "started_at", "finished_at", "counts")
        .first()
    )
    running = (
        CycleRun.objects.filter(status=CycleStatus.RUNNING).order_by("-as_of", "-id").values("id", "as_of", "started_at").first()
    )
    if running is not None:
        # Its pieces (tens) through the (run, name) unique index; the plan's own piece is bookkeeping, not work.
        pieces = (
            CyclePiece.objects.filter(run_id=running["id"])
            .exclude(name="plan")
            .aggregate(planned=Count("id"), done=Count("id", filter=Q(finished_at__isnull=False)))
        )
        running = {
            "run_id": running["id"], "as_of": running["as_of"], "started_at": running["started_at"],
            "pieces_done": pieces["done"], "pieces_planned": pieces["planned"],
        }  # fmt: skip
    # The waiting messages (a day's SMS at most) are a range of the (status, scheduled_at, id) index, counted
    # from the index alone in one pass; the oldest due one is the first entry of its status.
    outbox = _counts_by_status(OutboxMessage.objects.filter(status__in=OUTBOX_WAITING), OUTBOX_WAITING)
    first_due = OutboxMessage.objects.filter(status=MessageStatus.QUEUED).aggregate(first=Min("scheduled_at"))["first"]
    # The running tasks (588 669 on the bench's million customers: docs/PERFORMANCE.md) are a range of the
    # (status, due_at) index, counted from the index alone: exact, where the planner's estimate can be a day old.
    # With 590 000 running tasks of 2 million that took 50–80 ms on PostgreSQL (~150 ms just after 100 000 of
    # them were rewritten, before autovacuum), on a shared 2-core machine: well under 1% of a core at a 15 s
    # scrape interval. The whole reading took about 60 ms there.
    tasks = _counts_by_status(Task.objects.filter(status__in=RUNNING), RUNNING)
    return {
        "last": last,
        "running": running,
        "outbox": outbox,
        # Seconds since the oldest queued message became due; 0 while none is due yet (tomorrow's, or tonight's
        # held for the sending hours, are not late).
        "oldest_queued_seconds": max(0.0, (now - first_due).total_seconds()) if first_due is not None else 0.0,
        "tasks": tasks,
    }


def _counts_by_status(rows, statuses) -> dict[str, int]:
    """{status: rows} for each of `statuses`, 0 included, in one statement. The status column is counted, not
    the id: the status index alone answers it (an index-only scan), where COUNT(id) reads every row's page."""
    filters = {str(status): Count("status", filter=Q(status=status)) for status in statuses}
    return rows.aggregate(**filters)


def broker_queue_length(*, url: str, queue: str, timeout: float = BROKER_TIMEOUT_SECONDS) -> int | None:
    """The messages ready in `queue` on the broker at `url` (RabbitMQ or Redis), 0 for a queue that is not
    there (no job was ever sent to it), or None when the broker does not answer within about `timeout`."""
    # Each transport takes its own names for the socket's timeouts; connecting is tried once, not retried.
    if url.startswith("redis"):
        options = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    else:
        options = {"read_timeout": timeout, "write_timeout": timeout}
    try:
        with Connection(url, connect_timeout=timeout, transport_options=options) as connection:
            connection.ensure_connection(max_retries=0)
            channel = connection.channel()
            try:
                return channel.queue_declare(queue=queue, passive=True).message_count
            except connection.channel_errors:  # not declared on this broker: nothing waits in it
                return 0
    except Exception as exc:  # any failure of the broker or its client leaves the series out, never the scrape
        log.warning("metrics: the broker did not answer for queue %s: %s", queue, exc,
                    extra={"event": "metrics_broker_unanswered", "queue": queue})  # fmt: skip
        return None


def _timestamp(instant: dt.datetime) -> float:
    return instant.timestamp()


class OperationsCollector:
    """The figures above as Prometheus gauges, read afresh at every scrape (prometheus-client's custom
    collector: registered on the scrape's own registry, so no process keeps a copy that could go stale)."""

    def collect(self) -> Iterator[Metric]:
        began = time.monotonic()
        try:
            reading = metrics_reading(now=clock.now())
        except DatabaseError as exc:  # the request figures still go out; the database's absence is a figure too
            log.warning("metrics: the database did not answer: %s", exc, extra={"event": "metrics_database_unanswered"})
            reading = None
        yield _gauge("onboard90_database_up", "1 if the database answered this scrape's statements, else 0",
                     1 if reading is not None else 0)  # fmt: skip
        if reading is not None:
            yield from _cycle_families(reading)
            yield from _work_families(reading)
            yield _gauge("onboard90_metrics_read_seconds", "Seconds the database took for this scrape's figures",
                         time.monotonic() - began)  # fmt: skip
        if settings.BROKER_CONFIGURED:
            queue = settings.CELERY_TASK_DEFAULT_QUEUE
            length = broker_queue_length(url=settings.CELERY_BROKER_URL, queue=queue)
            yield _gauge("onboard90_broker_up", "1 if the broker answered within a second, else 0", int(length is not None))
            if length is not None:
                family = GaugeMetricFamily(
                    "onboard90_queue_messages", "Jobs waiting on the broker for a worker (ready, not yet taken)",
                    labels=["queue"],
                )
                family.add_metric([queue], length)
                yield family


def _gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, value=value)


def _cycle_families(reading: dict) -> Iterator[Metric]:
    last = reading["last"]
    if last is not None:  # before the first cycle there is nothing to say (Prometheus: absent())
        yield _gauge("onboard90_cycle_last_as_of_timestamp_seconds",
                     "Business time (as of) of the last finished daily cycle, Unix seconds", _timestamp(last["as_of"]))
        yield _gauge("onboard90_cycle_last_finished_timestamp_seconds",
                     "When the last finished daily cycle finished, Unix seconds", _timestamp(last["finished_at"]))
        yield _gauge("onboard90_cycle_last_duration_seconds", "How long the last finished daily cycle took",
                     (last["finished_at"] - last["started_at"]).total_seconds())
        counts = GaugeMetricFamily(
            "onboard90_cycle_last_counts",
            "What the last finished daily cycle did, by count (opened, sms_queued, tasks_created, overdue, …)",
            labels=["key"],
        )  # fmt: skip
        for key, value in sorted(last["counts"].items()):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                counts.add_metric([key], value)
        yield counts
    running = reading["running"]
    yield _gauge("onboard90_cycle_running", "1 while a daily cycle is recorded running, else 0", int(running is not None))
    if running is not None:
        yield _gauge("onboard90_cycle_running_started_timestamp_seconds",
                     "When the running daily cycle started, Unix seconds", _timestamp(running["started_at"]))
        yield _gauge("onboard90_cycle_running_pieces_done", "Pieces of the running daily cycle done",
                     running["pieces_done"])
        yield _gauge("onboard90_cycle_running_pieces_planned", "Pieces the running daily cycle planned",
                     running["pieces_planned"])  # fmt: skip


def _work_families(reading: dict) -> Iterator[Metric]:
    outbox = GaugeMetricFamily(
        "onboard90_outbox_messages", "SMS in the outbox not yet settled, by status", labels=["status"]
    )
    for status, messages in reading["outbox"].items():
        outbox.add_metric([status], messages)
    yield outbox
    yield _gauge("onboard90_outbox_oldest_queued_seconds",
                 "Seconds since the oldest queued SMS became due (its scheduled time); 0 when none is due yet",
                 reading["oldest_queued_seconds"])  # fmt: skip
    tasks = GaugeMetricFamily("onboard90_tasks", "Staff tasks still running (open, overdue)", labels=["status"])
    for status, count in reading["tasks"].items():
        tasks.add_metric([status], count)
    yield tasks
