"""The change log as the daily cycle reads it: which customers changed since the cycles before.

Writes append to `customers.CustomerChange` by database triggers (every INSERT or UPDATE of a customer, every
journey started), in the writer's own transaction. A cycle claims, in one statement at its start, every
line no finished cycle has consumed — the new ones and those a cycle that died had claimed — and looks again
at those customers' journeys. Nothing here reads a clock: which lines a cycle takes depends only on what was
committed before it began, so the same writes and the same cycles give the same rows whatever the wall clock
says, and a replay or a catch-up of skipped days needs no special case.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from onboard90.customers.models import CustomerChange
from onboard90.journeys.enums import CycleStatus
from onboard90.journeys.models import CycleRun

# Lines consumed by finished cycles are kept this long before `changes_prune` deletes them (what changed
# when, for someone looking into a cycle's work).
RETAIN = dt.timedelta(days=7)


def changes_consume(*, run: CycleRun) -> int:
    """Claim for `run` every line not consumed by a finished cycle. Returns how many lines it took.

    One UPDATE: on PostgreSQL it sees exactly the lines committed before it began (a writer still in its
    transaction leaves its lines to the next cycle); a cycle cut off after this leaves its claim to the next
    one, which takes the lines of every run that did not finish.
    """
    unfinished = list(
        CycleRun.objects.exclude(status=CycleStatus.FINISHED).exclude(pk=run.pk).values_list("pk", flat=True)
    )
    lines = CustomerChange.objects.filter(Q(consumed_by__isnull=True) | Q(consumed_by__in=unfinished))
    return lines.update(consumed_by=run.pk)


def changed_customers(*, run_id: int) -> QuerySet:
    """The ids of the customers whose lines the cycle `run_id` consumed, as a subquery."""
    return CustomerChange.objects.filter(consumed_by=run_id).values("customer_id")


def changes_prune(*, as_of: dt.datetime) -> int:
    """Delete the lines consumed by finished cycles of a business day more than RETAIN before `as_of`."""
    done = CycleRun.objects.filter(status=CycleStatus.FINISHED, as_of__lt=as_of - RETAIN).values("pk")
    deleted, _ = CustomerChange.objects.filter(consumed_by__in=done).delete()
    return deleted
