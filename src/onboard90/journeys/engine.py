"""The set-based machinery of the daily cycle: each step is a few INSERT…SELECT / UPDATE statements.

Nothing here loads journeys into Python. An action's window becomes a date range on the indexed anchor
column of the customer, its audience a `Q` (see `audience_sql`), and the due rows are inserted in bulk
against the unique `(journey, action, occurrence)` key, so a rerun or a crash never doubles anything.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import (
    Case,
    DateField,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    JSONField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Mod

from onboard90.core import clock
from onboard90.core.bulk import chunks, insert_rows, insert_select, update_returning
from onboard90.core.partitions import customers_between
from onboard90.core.planner import among, broad, narrow
from onboard90.core.session import pg_settings
from onboard90.journeys import audience_sql
from onboard90.journeys.changes import Since
from onboard90.journeys.enums import RUNNING, ActionStatus, JourneyStatus, TaskKind
from onboard90.journeys.models import Escalation, Journey, JourneyAction, Task
from onboard90.journeys.rules import windows
from onboard90.journeys.rules.assignment import CITY_UNIT_ORDER, unit_kind
from onboard90.journeys.signals import (
    acts_flipped,
    escalations_created,
    journeys_closed,
    tasks_created,
    tasks_overdue,
)
from onboard90.messaging.enums import UNSENT, MessageStatus
from onboard90.messaging.models import OutboxMessage
from onboard90.messaging.policy import next_send_time
from onboard90.org.enums import Role
from onboard90.org.models import StaffProfile, Unit
from onboard90.playbook import schema
from onboard90.playbook.models import PlaybookVersion
from onboard90.playbook.selectors import playbook_of

# Anchor name -> the customer's indexed local-date column. `data_surge` has none: its act fires once per alert,
# not once per journey, so the window engine never opens it — the cycle's alert step does (journeys.surge_acts),
# and each alert and its SMS are the customer's `usage.SurgeAlert` rows.
ANCHOR_COLUMNS = {
    "activation": "activated_on",
    "vip_rated": "vip_rated_on",
    "manager_assigned": "manager_assigned_on",
    "bill_issued": "first_bill_on",
}


def _acts_sql(acts: Sequence[tuple[str, int]]) -> tuple[str, list]:
    """A derived table (k, code, stage) of the acts, k their position, and its parameters."""
    sql = " UNION ALL ".join("SELECT %s AS k, %s AS code, %s AS stage" for _ in acts)
    return sql, [x for k, (code, stage) in enumerate(acts) for x in (k, code, stage)]


def _anchor_field(anchor: str, prefix: str = "customer__") -> str | None:
    column = ANCHOR_COLUMNS.get(anchor)
    return f"{prefix}{column}" if column else None


def _window_columns(column: str, window: schema.Window, anchors: Iterable[dt.date]) -> tuple[str, list]:
    """SQL for the window start, end and due instant of each possible anchor date in `column`, and its
    parameters: three simple CASEs over the anchor dates, written by hand rather than as Django `When`s,
    whose compiling (a filter built per date, up to 120 dates, three times) cost more than the query.
    The values are the rules' (`rules.windows.window_span`, `due_at`), the preview's too."""
    anchors = sorted(set(anchors))
    date_param = functools.partial(DateField().get_db_prep_value, connection=connection)
    stamp_param = functools.partial(DateTimeField().get_db_prep_value, connection=connection)
    spans = [windows.window_span(anchor_on, window.start, window.end) for anchor_on in anchors]
    columns = [
        [date_param(span.start) for span in spans],
        [date_param(span.end) for span in spans],
        [stamp_param(windows.due_at(span)) for span in spans],
    ]
    whens = " ".join("WHEN %s THEN %s" for _ in anchors)
    keys = [date_param(anchor_on) for anchor_on in anchors]
    sql = ", ".join(f"CASE {column} {whens} END" for _ in columns)
    return sql, [p for values in columns for pair in zip(keys, values, strict=True) for p in pair]


def _null(field):
    """A typed NULL: PostgreSQL reads a bare NULL in a derived table as text, which a date column refuses."""
    return Cast(Value(None), output_field=field)


ACTION_COLUMNS = [
    "journey",
    "customer",
    "action_code",
    "occurrence",
    "stage",
    "status",
    "window_start",
    "window_end",
    "due_at",
    "opened_at",
    "closed_at",
    "reason",
]


def open_due_actions(
    *,
    version: PlaybookVersion,
    playbook: schema.Playbook,
    actions: Sequence[schema.Action],
    today: dt.date,
    as_of: dt.datetime,
    since: Since | None,
) -> dict[str, int]:
    """Open `actions` (one group of `cycle.window_groups`) for every active journey on `version` that is due
    today, each for the journeys in its audience; record the ones that went by unseen as missed.

    With `since`, only journeys something can have changed for are looked at (see `changes.Since`): windows that
    began since the previous cycle (or began and ended between two cycles), and the journeys of customers
    in the change log since it (a journey started since is one). None means look at every journey.
    """
    window = actions[0].window
    assert all(a.window == window for a in actions), "open_due_actions takes one window group"
    anchor_field = _anchor_field(window.anchor)
    if anchor_field is None:
        return {"opened": 0, "missed": 0}
    acts = [(a.code, playbook.stage_of(a.code).number, audience_sql.to_q(a.audience)) for a in actions]
    everyone = Journey.objects.filter(*broad(status=JourneyStatus.ACTIVE, playbook_version=version))
    base = everyone
    if all(q for _, _, q in acts):  # no act of the group is for everyone: only journeys some act is for
        base = base.filter(functools.reduce(operator.or_, (q for _, _, q in acts)))

    def recent(qs, *, broadly: bool = False):
        if window.latest_day is None:
            return qs
        cond = {"customer__activated_on__gte": windows.earliest_activation(today, window.latest_day)}
        return qs.filter(*broad(**cond)) if broadly else qs.filter(**cond)

    # Every scan below is driven by an anchor-date range or by the day's arrivals, a small share of the
    # journeys. PostgreSQL still prices a hash join over all journeys below one index probe per customer
    # found, and at a million journeys each such join costs ~0.2 s against ~0.05 s for the probes.
    # work_mem: the sort of a day's new acts (see _insert_actions) stays in memory.
    with pg_settings(enable_hashjoin="off", enable_mergejoin="off", work_mem="64MB"):
        # Due today: anchor + start <= today <= anchor + end.
        lo, hi = today - dt.timedelta(days=window.end), today - dt.timedelta(days=window.start)
        # What to look at, one value for both a full look and a delta: the windows that began after the
        # previous cycle's day (every window, in a full look: no such day), and in the older windows the
        # journeys of the customers changed since (none to add in a full look, which reads them all).
        unseen = None if since is None else since.day - dt.timedelta(days=window.start - 1)  # anchor + start > it
        changed = None if since is None else since.customers()

        began = lo if unseen is None else max(lo, unseen)
        due_scans = [recent(base.filter(**{f"{anchor_field}__range": (began, hi)}))] if began <= hi else []
        # Driven by the changed customers alone: not by the audience (an index, say on the VIP tier, the
        # planner would walk instead); _insert_actions picks each act's audience. The windows that began
        # since are all read by the scan above: only the older ones here.
        older = min(hi, began - dt.timedelta(days=1))
        if changed is not None and lo <= older:
            in_window = recent(everyone.filter(*broad(**{f"{anchor_field}__range": (lo, older)})), broadly=True)
            due_scans.append(in_window.filter(*narrow(customer_id__in=changed)))
        opened = sum(
            _insert_actions(scan, acts, window, anchor_field, _dates(lo, hi), ActionStatus.OPEN, as_of)
            for scan in due_scans
        )

        # Gone by unseen: anchor + end < today. Windows that began after the previous cycle's day and have
        # ended already (every ended window, in a full look): no cycle saw them open. A window that ended
        # since but was open at a cycle was looked at then, with the same facts unless its customer changed
        # since, which the last scan catches. Each scan comes with the anchor dates it can hold when the range
        # itself tells them (the window CASE lists each); otherwise they are read first (one per activation
        # day at most).
        scans = []
        if unseen is None:
            scans.append((recent(base.filter(**{f"{anchor_field}__lt": lo})), None))
        elif unseen < lo:
            ended = recent(base.filter(**{f"{anchor_field}__gte": unseen, f"{anchor_field}__lt": lo}))
            scans.append((ended, _dates(unseen, lo - dt.timedelta(days=1))))
        if changed is not None:
            # Every ended window, for customers changed since (loaded late, or a fact that arrived late: a
            # number change reported after its coaching's window). Driven by those: the old-anchor range covers
            # nearly everyone, so it must not be the one an index walks.
            late = recent(everyone.filter(*broad(**{f"{anchor_field}__lt": lo})), broadly=True)
            scans.append((late.filter(*narrow(customer_id__in=changed)), None))
        missed = 0
        for scan, dates in scans:
            candidates = dates if dates is not None else sorted(set(scan.values_list(anchor_field, flat=True).distinct()))
            missed += _insert_actions(scan, acts, window, anchor_field, candidates, ActionStatus.MISSED, as_of)
        return {"opened": opened, "missed": missed}


def _dates(lo: dt.date, hi: dt.date) -> list[dt.date]:
    return [lo + dt.timedelta(days=i) for i in range((hi - lo).days + 1)]


def _insert_actions(qs, acts, window, anchor_field, anchors, status, as_of) -> int:
    """One row per (journey of `qs`, act whose audience the journey is in) not yet on file.

    `acts` are (code, stage, audience Q). The journeys are read once, with the window dates of their
    anchor and one 0/1 column per act with an audience, and crossed with the acts' codes.
    """
    anchors = list(anchors)
    if not anchors:
        return 0
    window_sql, window_params = _window_columns("d.anchor", window, anchors)
    flags = {f"in_{i}": Case(When(q, then=Value(1)), default=Value(0)) for i, (_, _, q) in enumerate(acts) if q}
    try:
        journeys = qs.values(jid=F("pk"), cid=F("customer_id"), anchor=F(anchor_field), **flags)
        inner, inner_params = journeys.query.get_compiler(connection=connection).as_sql()
    except EmptyResultSet:  # an audience no one can be in (`false`)
        return 0
    table = connection.ops.quote_name(JourneyAction._meta.db_table)
    stamp = DateTimeField().get_db_prep_value(as_of, connection)
    codes, code_params = _acts_sql([(code, stage) for code, stage, _ in acts])
    chosen = " OR ".join(f"(v.k = {i} AND d.in_{i} = 1)" for i, (_, _, q) in enumerate(acts) if q)
    if chosen and len(flags) < len(acts):  # some acts are for everyone
        chosen += " OR " + " OR ".join(f"v.k = {i}" for i, (_, _, q) in enumerate(acts) if not q)
    # The journeys first (CROSS JOIN keeps SQLite from starting with the codes); WHERE 1=1 keeps SQLite
    # from reading ON CONFLICT as part of the join. On PostgreSQL, OFFSET 0 keeps the act flags out of the
    # journeys' scan: pushed down as `CASE … END = 1` they are priced at 0.5 % of the rows each, and the
    # planner then reads every customer rather than the day's new or changed journeys.
    fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
    select = (
        f"SELECT d.jid, d.cid, v.code, 0, v.stage, %s, {window_sql}, %s, {'NULL' if status == ActionStatus.OPEN else '%s'}, %s "
        f"FROM ({inner}{fence}) d CROSS JOIN ({codes}) v "
        f"WHERE 1=1 {f'AND ({chosen})' if chosen else ''} AND NOT EXISTS (SELECT 1 FROM {table} a "
        f"WHERE a.journey_id = d.jid AND a.action_code = v.code AND a.occurrence = 0 AND a.customer_id = d.cid) "
        # Sorted, so every row is chosen before the first is written: otherwise each journey's later acts
        # would step over (and look up in the table) the rows just written for its earlier ones.
        f"ORDER BY d.jid, v.code"
    )
    reason = "window_passed_unseen" if status == ActionStatus.MISSED else ""
    head = [str(status), *window_params, stamp] + ([] if status == ActionStatus.OPEN else [stamp]) + [reason]
    # The NOT EXISTS leaves out the acts on file; a clash with a writer beside the cycle fails the piece, which
    # starts over (`cycle.piece_run`).
    return insert_rows(
        JourneyAction, ACTION_COLUMNS, select, [*head, *inner_params, *code_params], skip_conflicts=False
    )


TASK_COLUMNS = [
    "action",
    "journey",
    "customer",
    "kind",
    "owner_unit",
    "assignee",
    "status",
    "due_at",
    "created_at",
    "attempts",
    "max_attempts",
    "outcome",
    "note",
    "checklist",
]


def _city_unit(kind: str, city_ref: str):
    return Subquery(Unit.objects.filter(city_id=OuterRef(city_ref), kind=kind).order_by(*CITY_UNIT_ORDER).values("id")[:1])


def owner_unit_expression(channel: str, prefix: str = "journey__customer__"):
    """Assignment rule (`rules.assignment.owner_unit`, compiled): store work → the activating store;
    club/call-centre/VIP work → that unit of the city, else the store."""
    store = F(f"{prefix}store_id")
    kind = unit_kind(channel)
    if kind is None:
        return store
    return Coalesce(_city_unit(kind, f"{prefix}city_id"), store)


@dataclass(frozen=True)
class Fresh:
    """In a delta cycle, the open acts a delivery may be missing for (see `_open_acts`)."""

    opened_after: int  # the acts of this group opened in this cycle have larger ids
    changed: dict[str, list[int]]  # changed_running_acts: older acts whose customer changed since


def _open_acts(*, version: PlaybookVersion, code: str, fresh: Fresh | None) -> Iterable[QuerySet]:
    """The open instances of act `code` a delivery may be missing for: all of them, or in a delta cycle
    only those this cycle opened (a range of the code/status/id index) and those of customers changed
    since the previous cycle (a delivery's audience may hold for them now).

    Open acts only: an act turns overdue only through its task, so an overdue one has its task, and the
    overdue acts of past weeks (scattered over the whole table) need not be looked at again.
    """
    acts = JourneyAction.objects.filter(action_code=code, status=ActionStatus.OPEN, journey__playbook_version=version)
    if fresh is None:
        yield acts
        return
    yield acts.filter(pk__gt=fresh.opened_after)
    for chunk in chunks(fresh.changed.get(code, []), 5000):
        yield acts.filter(among("pk", chunk))


def create_tasks(
    *, version: PlaybookVersion, action: schema.Action, as_of: dt.datetime, fresh: Fresh | None = None
) -> int:
    """A task on the right worklist for every open instance of `action` that has none yet (see `_open_acts`)."""
    spec = action.task
    if spec is None:
        return 0
    assignee = (
        F("journey__customer__account_manager_id")
        if spec.channel == "account_manager"
        else _null(IntegerField())
    )
    audience = audience_sql.to_q(spec.audience, prefix="journey__customer__")
    written = 0
    before = top(Task)
    for acts in _open_acts(version=version, code=action.code, fresh=fresh):
        # By act and customer: the id alone would be looked up in every partition on PostgreSQL.
        has_task = Exists(Task.objects.filter(action=OuterRef("pk"), customer=OuterRef("customer_id")))
        rows = acts.filter(audience).filter(~has_task).values_list(
            "pk",
            "journey_id",
            "customer_id",
            Value(TaskKind.ACT.value),
            owner_unit_expression(spec.channel),
            assignee,
            Value(ActionStatus.OPEN.value),
            "due_at",
            Value(as_of, output_field=DateTimeField()),
            Value(0, output_field=IntegerField()),
            Value(spec.max_attempts, output_field=IntegerField()),
            Value(""),
            Value(""),
            Value({}, output_field=JSONField()),
        )
        written += insert_select(Task, TASK_COLUMNS, rows, skip_conflicts=False)  # ~has_task, as the acts
    if written:
        # The statement's tasks: above the id read before it, of this act (groups of other acts insert
        # beside it on other connections), stamped with this cycle's instant.
        made = Task.objects.filter(pk__gt=before, action__action_code=action.code, created_at=as_of)
        tasks_created.send(sender=Task, tasks=made, at=as_of)
    return written


def top(model) -> int:
    """The highest id on file (the rows a following INSERT … SELECT writes are above it)."""
    return model.objects.aggregate(top=Max("pk"))["top"] or 0


SMS_COLUMNS = [
    "action",
    "customer",
    "msisdn",
    "message_class",
    "text",
    "segments",
    "status",
    "scheduled_at",
    "not_after",
    "attempts",
    "gateway",
    "gateway_ref",
    "last_error",
    "created_at",
]


def queue_messages(
    *, version: PlaybookVersion, action: schema.Action, send_from: dt.datetime, as_of: dt.datetime,
    fresh: Fresh | None = None, sending_hours: tuple[str, str] = ("08:00", "21:00"),
) -> int:
    """An outbox row (text rendered afterwards) for every open instance of `action` that has none yet and
    whose customer is in the message's own audience (`sms.audience`).

    Open acts only (see `_open_acts`): an overdue act is past its due time, which is the message's
    `not_after`, so a message queued for it now could never be sent. It leaves from `send_from`, or with
    `sms.send_day` from the opening of the sending hours that day of its window, whichever is later.
    """
    spec = action.sms
    if spec is None:
        return 0
    scheduled = _scheduled_at(action, send_from=send_from, as_of=as_of, sending_hours=sending_hours)
    audience = audience_sql.to_q(spec.audience, prefix="journey__customer__")
    written = 0
    for acts in _open_acts(version=version, code=action.code, fresh=fresh):
        has_sms = Exists(OutboxMessage.objects.filter(action=OuterRef("pk"), customer=OuterRef("customer_id")))
        qs = acts.filter(audience).filter(~has_sms)
        if spec.message_class == "marketing":
            qs = qs.filter(journey__customer__marketing_opt_out=False)
        rows = _sms_rows(qs, spec, send_from=scheduled, as_of=as_of)
        written += insert_select(OutboxMessage, SMS_COLUMNS, rows, skip_conflicts=False)  # ~has_sms, as the acts
    return written


def _scheduled_at(action: schema.Action, *, send_from: dt.datetime, as_of: dt.datetime, sending_hours: tuple[str, str]):
    """When an act's message may leave: `send_from`, or for a message sent on a later day of its window
    (`sms.send_day`), that day's opening of the sending hours — one CASE over the window's first days an
    open act can have (today back to the window's length), not a date sum the databases spell apart."""
    if not action.sms.send_day:
        return Value(send_from, output_field=DateTimeField())
    today = clock.local_date(as_of)
    length = action.window.end - action.window.start
    whens = []
    for back in range(length + 1):
        first = today - dt.timedelta(days=back)
        planned = next_send_time(clock.at_local(first + dt.timedelta(days=action.sms.send_day)), *sending_hours)
        if planned > send_from:
            whens.append(When(window_start=first, then=Value(planned)))
    default = Value(send_from, output_field=DateTimeField())
    return Case(*whens, default=default, output_field=DateTimeField()) if whens else default


def _sms_rows(qs: QuerySet, spec, *, send_from, as_of: dt.datetime) -> QuerySet:
    return qs.values_list(
        "pk",
        "customer_id",
        "journey__customer__msisdn",
        Value(spec.message_class),
        Value(""),
        Value(0, output_field=IntegerField()),
        Value(MessageStatus.QUEUED.value),
        send_from,
        "due_at",
        Value(0, output_field=IntegerField()),
        Value(""),
        Value(""),
        Value(""),
        Value(as_of, output_field=DateTimeField()),
    )


def supersede(
    *, version: PlaybookVersion, action: schema.Action, as_of: dt.datetime, candidates: Sequence[int] | None = None
) -> int:
    """Close running instances whose customer now matches `supersede_when` (e.g. rated VIP mid-callback).

    Only an act still within its time is superseded (the VIP's own call replaces it). One already late —
    overdue, or open past its due time at `as_of` — closes as missed: its broken clock stays in every figure
    rather than dropping out as "superseded". Returns how many acts were closed either way.

    `candidates`: in a delta cycle, the only running acts that can have come to match it (those of
    customers changed since the previous cycle, `changed_running_acts`); None looks at every one.
    """
    if not action.supersede_when:
        return 0
    running = JourneyAction.objects.filter(
        action_code=action.code, status__in=RUNNING, journey__playbook_version=version
    ).filter(audience_sql.to_q(action.supersede_when, prefix="journey__customer__"))
    if candidates is None:
        ids = list(running.values_list("pk", flat=True))
    else:
        ids = [pk for chunk in chunks(list(candidates), 5000) for pk in running.filter(pk__in=chunk).values_list("pk", flat=True)]
    if not ids:
        return 0
    closed = 0
    with transaction.atomic():
        for chunk in chunks(ids, 5000):
            acts = JourneyAction.objects.filter(pk__in=chunk, status__in=RUNNING)
            late = acts.filter(Q(status=ActionStatus.OVERDUE) | Q(due_at__lt=as_of))
            # The late ones first; then what is still running in the chunk was in time. Each group's tasks and
            # messages go before its acts, because the group is read through its acts' running status.
            for status, group, reason in (
                (ActionStatus.MISSED, late, "overdue_when_superseded"),
                (ActionStatus.SUPERSEDED, acts, f"superseded_by:{action.superseded_by}"),
            ):
                Task.objects.filter(action_id__in=group.values("pk"), status__in=RUNNING).update(
                    status=status, completed_at=as_of
                )
                OutboxMessage.objects.filter(action_id__in=group.values("pk"), status__in=UNSENT).update(
                    status=MessageStatus.CANCELLED, last_error=reason
                )
                closed += group.update(status=status, closed_at=as_of, reason=reason)
    return closed


def _supervisor_of_unit():
    """The supervisor an escalation goes to: one posted to the unit itself first, else one of its city."""
    supervisors = StaffProfile.objects.filter(role=Role.SUPERVISOR, active=True).order_by("id").values("user_id")
    return Coalesce(
        Subquery(supervisors.filter(unit_id=OuterRef("owner_unit_id"))[:1]),
        Subquery(supervisors.filter(city_id=OuterRef("owner_unit__city_id"))[:1]),
    )


def mark_overdue(*, as_of: dt.datetime, shard: Shard | None = None) -> dict[str, int]:
    """Tasks past their due time become overdue and are escalated once to the owning unit's supervisor.

    The day's late tasks (index on status, due_at) are all there is to look at, not every overdue task on
    file. They are flipped and escalated in ranges of RANGE tasks, each range in one transaction (a crash cannot
    separate a flip from its escalation; a rerun finds the rest, the escalation's task being unique).
    The cycle runs it once all window groups are done, by `shard` of customers on workers (`cycle`);
    `cycle.sla_scan` between cycles, whole.
    """
    # In customer order: each range's tasks and acts then sit in one or two partitions of their tables on
    # PostgreSQL (`customers_between`), where in id order they would span all the recent ones.
    late = list(
        of_shard(Task.objects.filter(status=ActionStatus.OPEN, due_at__lt=as_of), shard)
        .order_by("customer_id", "pk")
        .values_list("pk", "customer_id")
    )
    done = [_mark_overdue(late[i : i + RANGE], as_of) for i in range(0, len(late), RANGE)]
    return {"overdue": sum(d["overdue"] for d in done), "escalated": sum(d["escalated"] for d in done)}


class Shard(NamedTuple):
    """One of `count` disjoint parts of the customers (their id modulo `count`), for a shared step of the cycle
    run side by side on workers. Not ranges of ids: a day's late tasks and its closing cohort are the customers
    of a few activation days, one narrow range of ids, which ranges would give to one part."""

    index: int
    count: int


def of_shard(rows: QuerySet, shard: Shard | None) -> QuerySet:
    """The rows (of a model with `customer_id`) of `shard`'s customers: all of them without one, or with one part."""
    if shard is None or shard.count == 1:
        return rows
    return rows.alias(_shard=Mod("customer_id", shard.count)).filter(_shard=shard.index)


# Rows one transaction of the shared steps (overdue flips, journey ends) takes at most.
RANGE = 5000


def _customer_span(journeys: QuerySet) -> tuple[int, int] | None:
    """The lowest and highest customer id of `journeys` (None when there is none): said beside the journeys,
    it lets PostgreSQL read only the partitions of that range, as `core.partitions.customers_between`."""
    span = journeys.aggregate(lo=Min("customer_id"), hi=Max("customer_id"))
    return None if span["lo"] is None else (span["lo"], span["hi"])


def _mark_overdue(late_tasks: list[tuple[int, int]], as_of: dt.datetime) -> dict[str, int]:
    # The late tasks drive every statement here, by id; PostgreSQL's estimate of them is far too high (it
    # cannot know that open tasks are nearly all recent), and it would hash every escalation and every
    # open act on file instead of probing them for the few thousand late ones.
    task_ids = [pk for pk, _customer in late_tasks]
    between = customers_between(late_tasks)
    with transaction.atomic(), pg_settings(enable_hashjoin="off", enable_mergejoin="off"):
        late = Task.objects.filter(between, among("pk", task_ids), status=ActionStatus.OPEN, due_at__lt=as_of)
        escalated = escalate(late, reason="overdue", at=as_of)
        # Their acts by id: given as a subquery, the planner would start from every open act on file instead.
        action_ids = list(late.values_list("action_id", flat=True))
        flipped = update_returning(
            JourneyAction.objects.filter(*broad(status=ActionStatus.OPEN), between, among("pk", action_ids)),
            {"status": ActionStatus.OVERDUE}, returning=("id", "customer"),
        )
        overdue = late.update(status=ActionStatus.OVERDUE)
        if overdue:
            late_now = Task.objects.filter(between, among("pk", task_ids), status=ActionStatus.OVERDUE, due_at__lt=as_of)
            tasks_overdue.send(sender=Task, tasks=late_now, at=as_of)
        # Last: the figures' cells it moves are shared with the other shards' transactions (`Shard`), which wait
        # for this one's commit once it has written them.
        acts_flipped.send(sender=JourneyAction, acts=flipped, before=ActionStatus.OPEN, after=ActionStatus.OVERDUE)
    return {"overdue": overdue, "escalated": escalated}


def escalate(tasks: QuerySet, *, reason: str, at: dt.datetime) -> int:
    before = top(Escalation)
    rows = tasks.filter(~Exists(Escalation.objects.filter(task=OuterRef("pk")))).values_list(
        "pk", "customer_id", Value(at, output_field=DateTimeField()), "owner_unit_id", _supervisor_of_unit(),
        Value(reason),
    )
    written = insert_select(Escalation, ["task", "customer", "at", "unit", "supervisor", "reason"], rows)
    if written:
        made = Escalation.objects.filter(pk__gt=before, task_id__in=tasks.values("pk"), at=at)
        escalations_created.send(sender=Escalation, escalations=made, at=at)
    return written


def record_unopened(
    *, journey_ids: Sequence[int] | None = None, status: str, at: dt.datetime, journeys=None, skip_conflicts: bool = True
) -> int:
    """At a journey's end, give every act that never opened its outcome (not_applicable or cancelled).

    One INSERT … SELECT per playbook version: the journeys crossed with the version's acts, EXCEPT the
    (journey, act) pairs on file — not one statement per act. `skip_conflicts` as `core.bulk.insert_rows`: the
    cycle's journey ends start over on a clash; an exit, beside the cycle, skips what the cycle wrote.
    """
    journeys = journeys if journeys is not None else Journey.objects.filter(pk__in=list(journey_ids or []))
    quote = connection.ops.quote_name
    table = quote(JourneyAction._meta.db_table)
    stamp = DateTimeField().get_db_prep_value(at, connection)
    total = 0
    for version in PlaybookVersion.objects.filter(pk__in=journeys.values("playbook_version_id").distinct()):
        acts = [(action.code, stage.number) for stage in playbook_of(version).stages for action in stage.actions]
        if not acts:
            continue
        of_version = journeys.filter(playbook_version=version)
        chosen, chosen_params = of_version.values("pk").query.get_compiler(connection=connection).as_sql()
        span = _customer_span(of_version)
        if span is None:
            continue
        codes, act_params = _acts_sql(acts)
        # Every (journey, act) pair EXCEPT the pairs on file: one pass over the journeys' own rows (their
        # index range), not a probe of each journey's rows once per act.
        select = (
            f"SELECT p.jid, p.cid, p.code, 0, v.stage, %s, NULL, NULL, NULL, %s, %s, %s FROM ("
            f"SELECT j.id AS jid, j.customer_id AS cid, c.code AS code FROM {quote(Journey._meta.db_table)} j "
            f"CROSS JOIN ({codes}) c WHERE j.id IN ({chosen}) "
            f"EXCEPT SELECT a.journey_id, a.customer_id, a.action_code FROM {table} a "
            f"WHERE a.journey_id IN ({chosen}) AND a.occurrence = 0 AND a.customer_id BETWEEN %s AND %s"
            f") p JOIN ({codes}) v ON v.code = p.code WHERE 1=1"
        )
        # In the order of the text: status, stamps and reason, then the pairs, the pairs on file, the acts.
        params = [
            str(status), stamp, stamp, "never_opened", *act_params, *chosen_params, *chosen_params, *span,
            *act_params,
        ]  # fmt: skip
        total += insert_rows(JourneyAction, ACTION_COLUMNS, select, params, skip_conflicts=skip_conflicts)
    return total


def close_finished_journeys(
    *, version: PlaybookVersion, playbook: schema.Playbook, today: dt.date, as_of, shard: Shard | None = None
) -> int:
    """Journeys past their last day (day 90) complete; work still running then is missed.

    The finished journeys (of `shard`'s customers, on workers) are closed in id ranges, each in its own
    transaction: no two ranges share a journey, nor any row written here, so a crash between two leaves the
    rest to the rerun.
    """
    last_activation = today - dt.timedelta(days=playbook.journey_days + 1)
    # Narrow: the active journeys that old are a day's cohort; SQLite would otherwise scan every journey
    # in id order (for the ORDER BY) rather than read the cohort by its activation date.
    finished = of_shard(
        Journey.objects.filter(
            *broad(status=JourneyStatus.ACTIVE, playbook_version=version),
            *narrow(customer__activated_on__lte=last_activation),
        ),
        shard,
    )
    ids = list(finished.order_by("pk").values_list("pk", flat=True))
    if not ids:
        return 0
    # A range of the finished set's ids: the statements take it as a subquery (an index range), not as
    # 5000 bound parameters each.
    return sum(
        _close_journeys(finished.filter(pk__gte=ids[i], pk__lte=ids[min(i + RANGE, len(ids)) - 1]), as_of)
        for i in range(0, len(ids), RANGE)
    )


def _close_journeys(chunk: QuerySet, as_of: dt.datetime) -> int:
    chunk_ids = chunk.values("pk")
    span = _customer_span(chunk)  # a day's cohort: one or two partitions
    between = Q(customer_id__gte=span[0], customer_id__lte=span[1]) if span is not None else Q()
    with transaction.atomic():
        # Driven by the chunk's journeys, not by every running task/action/queued message on file.
        Task.objects.filter(*broad(status__in=RUNNING), between, journey_id__in=chunk_ids).update(
            status=ActionStatus.MISSED, completed_at=as_of
        )
        # An act's message is its customer's, and a customer has one journey: by customer, not through the acts.
        OutboxMessage.objects.filter(
            *broad(status__in=UNSENT), between, customer_id__in=chunk.values("customer_id"), action__isnull=False
        ).update(status=MessageStatus.CANCELLED, last_error="journey_completed")
        # Open and overdue apart: each is a different count of the figures to move (`acts_flipped`).
        acts = JourneyAction.objects.filter(between, journey_id__in=chunk_ids)
        ended = {
            before: update_returning(
                acts.filter(*broad(status=before)),
                {"status": ActionStatus.MISSED, "closed_at": as_of, "reason": "journey_ended"},
                returning=("id", "customer"),
            )
            for before in RUNNING
        }
        record_unopened(journeys=chunk, status=ActionStatus.NOT_APPLICABLE, at=as_of, skip_conflicts=False)
        journeys_closed.send(sender=Journey, journeys=chunk, status=JourneyStatus.COMPLETED, at=as_of)
        closed = Journey.objects.filter(*broad(status=JourneyStatus.ACTIVE), pk__in=chunk_ids).update(
            status=JourneyStatus.COMPLETED, closed_at=as_of
        )
        # Last, as in `_mark_overdue`: the cells are shared with the other shards' transactions.
        for before, flipped in ended.items():
            acts_flipped.send(sender=JourneyAction, acts=flipped, before=before, after=ActionStatus.MISSED)
        return closed
