"""The partitions of the act, task and message rows over the journeys' lifetime (分区维护), PostgreSQL only.

`core.partitions` knows how a table is partitioned by customer id; this module knows when a range is needed
(before its customers arrive) and when it may go (once its customers' journeys are over and the retention
has passed), which only the journeys can tell. `onboard90 partitions` and beat's daily `partitions-ahead`
call it; on SQLite every function here returns nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import Max, Q

from onboard90.core.partitions import Partition, partitions_detach, partitions_ensure, partitions_list
from onboard90.core.services import audit_record
from onboard90.customers.models import Customer
from onboard90.journeys.enums import JourneyStatus
from onboard90.journeys.selectors import versions_in_use
from onboard90.playbook.selectors import playbook_of


def partitions_ahead() -> list[str]:
    """Ranges a block ahead of the newest customer on every partitioned table; the partitions created."""
    newest = Customer.objects.aggregate(top=Max("pk"))["top"] or 0
    return partitions_ensure(newest=newest)


def partitions_detachable(*, today: dt.date, retention_days: int | None = None) -> list[Partition]:
    """The ranges whose rows will not change again: every customer in it activated more than a journey
    (90 days) plus the retention before `today`, and none of their journeys is still active."""
    retention = settings.ONBOARD90["PARTITION_RETENTION_DAYS"] if retention_days is None else retention_days
    journey_days = max((playbook_of(v).journey_days for v in versions_in_use()), default=90)
    cutoff = today - dt.timedelta(days=journey_days + 1 + retention)
    found = []
    for partition in partitions_list():
        if partition.low is None:
            continue
        customers = Customer.objects.filter(pk__gte=partition.low, pk__lt=partition.high)
        summary = customers.aggregate(
            newest=Max("activated_on"),
            active=Max("journey__pk", filter=Q(journey__status=JourneyStatus.ACTIVE)),
        )
        if summary["newest"] is not None and summary["newest"] <= cutoff and summary["active"] is None:
            found.append(partition)
    return found


def partitions_detach_finished(*, today: dt.date, actor: Any | None, retention_days: int | None = None) -> list[str]:
    """Detach every range `partitions_detachable` finds; each stays in the database as a table of its own for
    the operator to archive (`pg_dump -t`) and drop. Audited; the names detached."""
    detached = partitions_detach(partitions=partitions_detachable(today=today, retention_days=retention_days))
    if detached:
        audit_record(
            actor=actor, verb="database.detach_partitions", object_type="core.partition",
            after={"partitions": detached, "as_of": today.isoformat()},
        )
    return detached
