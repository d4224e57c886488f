"""PostgreSQL partitions the act, task and message rows by ranges of customer ids: every unique key holds the
customer id, a row past the ranges waits in the DEFAULT partition until its range is made, and a range whose
journeys are long over is detached whole."""

import datetime as dt

import pytest
from django.db import connection

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.core.partitions import KEY, partitions_list, with_key
from onboard90.journeys import partitioning
from onboard90.journeys.cycle import cycle_run
from onboard90.journeys.enums import JourneyStatus
from onboard90.journeys.models import Journey, JourneyAction, Task
from onboard90.messaging.models import OutboxMessage

PARTITIONED = {"journeys_journeyaction", "journeys_task", "messaging_outboxmessage"}
DAY = dt.date(2012, 3, 1)


def test_a_unique_key_gets_the_customer_id_once():
    assert with_key("PRIMARY KEY (id)") == "PRIMARY KEY (id, customer_id)"
    assert with_key("UNIQUE (journey_id, action_code, occurrence, customer_id)").count(KEY) == 1
    assert with_key("CREATE UNIQUE INDEX x ON public.t USING btree (a, lower(b)) WHERE (c IS NULL)") == (
        "CREATE UNIQUE INDEX x ON public.t USING btree (a, lower(b), customer_id) WHERE (c IS NULL)"
    )


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_act_task_and_message_tables_are_partitioned_by_customer_and_every_unique_key_holds_it():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, p.partstrat, a.attname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = p.partattrs[0] "
            "WHERE c.relnamespace = current_schema()::regnamespace"
        )
        partitioned = {name: (strategy, column) for name, strategy, column in cursor.fetchall()}
        assert {t: partitioned.get(t) for t in PARTITIONED} == dict.fromkeys(PARTITIONED, ("r", KEY))
        cursor.execute(
            "SELECT t.relname, i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid "
            "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indisunique AND t.relname = ANY(%s)",
            [sorted(PARTITIONED)],
        )
        unique = cursor.fetchall()
    assert {table for table, _name, _definition in unique} == PARTITIONED  # the primary keys at least
    missing = [name for _table, name, definition in unique if KEY not in definition]
    assert missing == []
    # Each table has its DEFAULT partition and a range for the customers on file.
    by_table = {t: [p for p in partitions_list() if p.table == t] for t in PARTITIONED}
    for table, parts in by_table.items():
        assert [p.name for p in parts if p.low is None] == [f"{table}_default"]
        assert parts[0].low == 0


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_customer_past_the_ranges_is_caught_by_the_default_partition_then_moved_into_its_own_range(province):
    top = max(p.high for p in partitions_list() if p.high is not None)
    customer = builders.customer(id=top + 1000, city_obj=province["city"], activated_on=DAY, number_changed=True)
    cycle_run(as_of=clock.cycle_instant(DAY + dt.timedelta(days=1)), dispatch=False)
    assert _homes(customer.pk) == {f"{t}_default" for t in PARTITIONED}
    acts = JourneyAction.objects.filter(customer=customer).count()
    assert acts and Task.objects.filter(customer=customer).exists()

    made = partitioning.partitions_ahead()

    assert {f"{t}_from_{top}" for t in PARTITIONED} <= set(made)
    assert _homes(customer.pk) == {f"{t}_from_{top}" for t in PARTITIONED}
    assert JourneyAction.objects.filter(customer=customer).count() == acts
    assert partitioning.partitions_ahead() == []  # already a block ahead


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_range_whose_journeys_ended_past_the_retention_is_detached_whole_and_kept_as_a_table(province):
    top = max(p.high for p in partitions_list() if p.high is not None)
    customer = builders.customer(id=top + 10, city_obj=province["city"], activated_on=DAY)
    cycle_run(as_of=clock.cycle_instant(DAY + dt.timedelta(days=1)), dispatch=False)
    partitioning.partitions_ahead()
    ended = DAY + dt.timedelta(days=92)
    assert partitioning.partitions_detachable(today=ended, retention_days=30) == []  # the journey is active

    Journey.objects.filter(customer=customer).update(status=JourneyStatus.COMPLETED)
    assert partitioning.partitions_detachable(today=ended, retention_days=30) == []  # within the retention
    later = ended + dt.timedelta(days=30)
    names = {p.name for p in partitioning.partitions_detachable(today=later, retention_days=30)}
    assert names == {f"{t}_from_{top}" for t in PARTITIONED}  # the empty ranges below it are not

    detached = partitioning.partitions_detach_finished(today=later, actor=None, retention_days=30)

    assert set(detached) == names
    assert not JourneyAction.objects.filter(customer=customer).exists()
    assert not OutboxMessage.objects.filter(customer=customer).exists()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM journeys_journeyaction_from_{top} WHERE customer_id = %s", [customer.pk])
        assert cursor.fetchone()[0] > 0


def _homes(customer_id: int) -> set[str]:
    """The partitions holding the customer's acts, tasks and messages."""
    found = set()
    with connection.cursor() as cursor:
        for table in PARTITIONED:
            cursor.execute(f"SELECT DISTINCT tableoid::regclass::text FROM {table} WHERE customer_id = %s", [customer_id])
            found |= {name for (name,) in cursor.fetchall()}
    return found
