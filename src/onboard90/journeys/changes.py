"""The change log as the daily cycle reads it: which customers changed since the cycles before, and the
delta (增量) a cycle works from: `since_previous` decides whether it looks only at those, `Since` says what.

Writes append to `customers.CustomerChange` by database triggers (every INSERT or UPDATE of a customer, every
journey started), in the writer's own transaction. A cycle claims, in one statement at its start, every
line no finished cycle has consumed — the new ones and those a cycle that died had claimed — and looks again
at those customers' journeys. Nothing here reads a clock: which lines a cycle takes depends only on what was
committed before it began, so the same writes and the same cycles give the same rows whatever the wall clock
says, and a replay or a catch-up of skipped days needs no special case.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from onboard90.catalog.models import Package, VipTier
from onboard90.core import clock
from onboard90.core.bulk import chunks
from onboard90.core.partitions import customers_between
from onboard90.core.planner import among, broad, broad_on_sqlite, narrow
from onboard90.core.session import pg_settings
from onboard90.customers.models import CustomerChange
from onboard90.journeys import audience_sql
from onboard90.journeys.enums import RUNNING, CycleStatus, JourneyStatus
from onboard90.journeys.models import CycleRun, Journey, JourneyAction
from onboard90.org.models import City
from onboard90.playbook import schema
from onboard90.playbook.models import PlaybookVersion

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


# --- the delta -------------------------------------------------------------------------------------------


# Beyond a tenth of the active journeys (and this many) changed since the previous cycle, look at everyone.
DELTA_MIN_TOUCHED = 1000


@dataclass(frozen=True)
class Since:
    """增量: what can have changed since the previous finished cycle, so the cycle need look nowhere else.

    A journey whose window was already open at that cycle and whose customer has no line in the change log
    since (`journeys.changes`) was looked at by that cycle with the same facts: nothing can be due for it now
    that was not due then (windows only close, audiences are facts of the customer row and the catalogue).
    A journey started since is a change of its customer too.
    """

    day: dt.date  # the previous cycle's business day: windows that began after it
    run_id: int  # this cycle: the customers whose change lines it consumed

    def customers(self) -> QuerySet:
        return changed_customers(run_id=self.run_id)


def facts_digest(versions: Iterable[PlaybookVersion]) -> str:
    """A fingerprint of what audiences read besides the customer row: the catalogue, the cities, the
    playbooks. When it differs from the previous cycle's, every customer's facts may have moved."""
    parts = [sorted((v.pk, v.checksum) for v in versions)]
    for model in (Package, VipTier, City):
        names = [f.attname for f in model._meta.concrete_fields]
        parts.append(list(model.objects.order_by("pk").values_list(*names)))
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def since_previous(previous, *, digest: str, run, touched: int) -> Since | None:
    """The delta for cycle `run` after `previous` (the last finished CycleRun before it); None: look at
    everything (a first cycle, a catalogue or playbook changed since, a cycle begun after `previous` that did
    not finish or ran for a later day, or changes touching a large share of the journeys).

    `run` must have consumed its change lines already; `touched` is how many (what `changes.changes_consume`
    returned). No clock is read: the business day of `previous` and the lines `run` took decide.
    """
    if previous is None or not previous.digest or previous.digest != digest:
        return None
    if CycleRun.objects.filter(pk__gt=previous.pk).exclude(pk=run.pk).exists():  # cut off, or a backfill
        return None
    since = Since(day=clock.local_date(previous.as_of), run_id=run.pk)
    # Looking journey by journey pays while the changed ones are few; after a load that touched a large
    # share (a first import, a re-rating of everyone) one look at every journey is cheaper.
    if touched <= DELTA_MIN_TOUCHED:
        return since
    # More than a tenth of the active journeys touched? Counting up to ten times `touched` tells, without
    # counting all of them (a million at a province's scale).
    active = Journey.objects.filter(status=JourneyStatus.ACTIVE)[: 10 * touched].count()
    return None if active < 10 * touched else since


def changeable(actions: Iterable[schema.Action]) -> set[str]:
    """The acts a customer's change can affect once open: a supersede, or a delivery with an audience of its
    own (a VIP-only call, a marketing SMS). The others got every delivery they will ever have at opening."""
    return {
        a.code
        for a in actions
        if a.supersede_when
        or (a.task is not None and audience_sql.to_q(a.task.audience) != Q())
        or (a.sms is not None and (a.sms.message_class == "marketing" or audience_sql.to_q(a.sms.audience) != Q()))
    }


def changed_running_acts(*, since: Since, before: int, codes: Iterable[str]) -> dict[str, list[int]]:
    """{act code: ids} of the running acts of `codes` (see `changeable`) opened before this cycle (ids up to
    `before`) whose customer changed since the previous one: the only old acts a supersede or a delivery's
    audience can newly apply to.

    Read once per cycle, driven by the changed customers (a day's worth), not by the acts on file.
    """
    # The changed customers' journeys, read once (a day's worth of ids) rather than once per code; the code
    # not to be driven by on SQLite: it would otherwise walk the code's running acts (95k first callbacks at
    # 1M) by the code/status index.
    # In customer order, each list with its customers' range: on PostgreSQL only those partitions of the acts.
    changed = list(
        Journey.objects.filter(*narrow(customer_id__in=since.customers())).order_by("customer_id").values_list(
            "pk", "customer_id"
        )
    )
    codes = sorted(set(codes))
    found: dict[str, list[int]] = {code: [] for code in codes}
    if not codes:
        return found
    with pg_settings(enable_hashjoin="off", enable_mergejoin="off"):
        # Every code in one statement per list of journeys: (journey, code) pairs are probes of the unique key,
        # the journeys' ids sent once rather than once per code.
        for chunk in chunks(changed, 5000):
            for pk, code in JourneyAction.objects.filter(
                customers_between(chunk), *broad(status__in=RUNNING, pk__lte=before),
                *broad_on_sqlite(action_code__in=codes), among("journey_id", [journey for journey, _customer in chunk]),
            ).order_by("pk").values_list("pk", "action_code"):
                found[code].append(pk)
    return found
