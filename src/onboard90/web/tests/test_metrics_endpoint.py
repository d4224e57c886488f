"""`/metrics`: Prometheus reads it without signing in, from loopback (or the addresses allowed) or with the
token; everyone else — another address, a proxied request, a wrong token — gets 404. What it says: the
requests by view, and the cycle, outbox, task figures of the database, to the number."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from prometheus_client.parser import text_string_to_metric_families

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.journeys import cycle
from onboard90.journeys.enums import ActionStatus
from onboard90.journeys.models import CycleRun, Task
from onboard90.messaging.enums import MessageStatus
from onboard90.messaging.gateways import MemoryGateway
from onboard90.messaging.models import OutboxMessage

pytestmark = pytest.mark.django_db

DAY = dt.date(2012, 3, 1)
NOW = clock.at_local(DAY + dt.timedelta(days=1), 10)


@pytest.fixture(autouse=True)
def metrics_settings(settings):
    """The defaults: loopback only, no token, no broker named."""
    settings.ONBOARD90 = {**settings.ONBOARD90, "METRICS_ALLOW": (ipaddress.ip_network("127.0.0.0/8"),
                          ipaddress.ip_network("::1")), "METRICS_TOKEN": ""}  # fmt: skip
    settings.BROKER_CONFIGURED = False
    return settings


def samples(body: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of an exposition."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def test_metrics_are_served_to_loopback_without_sign_in_with_the_figures_of_the_database(client):
    builders.package("A66")
    builders.playbook_version()
    builders.scratch_database()
    city = builders.city("jinan")
    for _ in range(2):
        builders.customer(city_obj=city, activated_on=DAY)
    run = cycle.cycle_run(as_of=clock.cycle_instant(DAY), gateway=MemoryGateway(), dispatch=False)
    # The cycle's record and its work, set to figures known here.
    CycleRun.objects.filter(pk=run.pk).update(finished_at=run.started_at + dt.timedelta(seconds=73.25))
    messages = list(OutboxMessage.objects.order_by("pk").values_list("pk", flat=True))
    tasks = list(Task.objects.order_by("pk").values_list("pk", flat=True))
    assert len(messages) >= 3 and len(tasks) >= 5
    OutboxMessage.objects.update(status=MessageStatus.SENT)
    OutboxMessage.objects.filter(pk__in=messages[:2]).update(
        status=MessageStatus.QUEUED, scheduled_at=NOW - dt.timedelta(seconds=90)
    )
    OutboxMessage.objects.filter(pk=messages[2]).update(status=MessageStatus.SENDING)
    Task.objects.update(status=ActionStatus.DONE)
    Task.objects.filter(pk__in=tasks[:3]).update(status=ActionStatus.OPEN)
    Task.objects.filter(pk__in=tasks[3:5]).update(status=ActionStatus.OVERDUE)

    with clock.simulated(NOW):
        response = client.get("/metrics")

    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    found = samples(response.content.decode())
    assert found[("onboard90_cycle_last_as_of_timestamp_seconds", ())] == clock.cycle_instant(DAY).timestamp()
    assert found[("onboard90_cycle_last_duration_seconds", ())] == 73.25
    for key in ("opened", "sms_queued", "tasks_created", "overdue", "escalated"):
        assert found[("onboard90_cycle_last_counts", (("key", key),))] == run.counts[key]
    assert run.counts["opened"] > 0 and run.counts["tasks_created"] == len(tasks)
    assert found[("onboard90_cycle_running", ())] == 0
    assert found[("onboard90_outbox_messages", (("status", "queued"),))] == 2
    assert found[("onboard90_outbox_messages", (("status", "sending"),))] == 1
    assert found[("onboard90_outbox_messages", (("status", "unconfirmed"),))] == 0
    assert found[("onboard90_outbox_oldest_queued_seconds", ())] == 90
    assert found[("onboard90_tasks", (("status", "open"),))] == 3
    assert found[("onboard90_tasks", (("status", "overdue"),))] == 2
    assert found[("onboard90_database_up", ())] == 1
    assert not any(name == "onboard90_queue_messages" for name, _ in found)  # no broker named


def test_request_latencies_and_counts_are_kept_by_view(client):
    def healthz_requests() -> float:
        found = samples(client.get("/metrics").content.decode())
        key = ("django_http_requests_latency_seconds_by_view_method_count", (("method", "GET"), ("view", "healthz")))
        return found.get(key, 0.0)

    before = healthz_requests()
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert healthz_requests() == before + 3


def test_metrics_are_not_served_to_an_address_outside_the_allow_list(client):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404


def test_metrics_are_served_to_an_address_in_the_allow_list_and_the_list_replaces_loopback(client, metrics_settings):
    metrics_settings.ONBOARD90 = {**metrics_settings.ONBOARD90, "METRICS_ALLOW": (ipaddress.ip_network("10.8.0.0/16"),)}
    assert client.get("/metrics", REMOTE_ADDR="10.8.3.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.9.3.4").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404


def test_metrics_are_served_to_loopback_on_a_dual_stack_socket(client):
    assert client.get("/metrics", REMOTE_ADDR="::ffff:127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_metrics_are_not_served_to_loopback_through_a_proxy(client):
    """A TLS proxy on the same machine makes every visitor from the internet arrive from 127.0.0.1."""
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 404
    assert client.get("/metrics", HTTP_X_FORWARDED_PROTO="https").status_code == 404
    assert client.get("/metrics", HTTP_FORWARDED="for=198.51.100.7").status_code == 404


def test_metrics_with_the_right_token_are_served_from_anywhere(client, metrics_settings):
    metrics_settings.ONBOARD90 = {**metrics_settings.ONBOARD90, "METRICS_TOKEN": "s3cret-scrape-token"}
    response = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="203.0.113.9",
        HTTP_AUTHORIZATION="Bearer s3cret-scrape-token",
    )  # fmt: skip
    assert response.status_code == 200 and b"onboard90_tasks" in response.content


def test_metrics_with_a_wrong_token_are_refused_even_from_loopback(client, metrics_settings):
    metrics_settings.ONBOARD90 = {**metrics_settings.ONBOARD90, "METRICS_TOKEN": "s3cret-scrape-token"}
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer guess").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer guess").status_code == 404
    assert client.get("/metrics").status_code == 200  # no token brought: loopback is allowed as before


def test_a_token_is_not_a_way_in_while_none_is_configured(client):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_metrics_answer_only_get_and_say_so_only_to_those_allowed(client):
    assert client.post("/metrics").status_code == 405
    assert client.post("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404
