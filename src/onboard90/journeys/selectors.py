"""Reads over journeys, actions and tasks: one journey's document, worklists, figures and reports."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce

from onboard90.core import clock
from onboard90.journeys.enums import ActionStatus, JourneyStatus
from onboard90.journeys.models import CycleRun, Journey, JourneyAction, Task
from onboard90.journeys.rules import audience as audience_rules
from onboard90.journeys.rules import windows


def today_figures() -> dict:
    """Headline figures for the home page."""
    journeys = dict(Journey.objects.values_list("status").annotate(n=Count("id")))
    tasks = dict(Task.objects.values_list("status").annotate(n=Count("id")))
    last = CycleRun.objects.filter(status="finished").order_by("-as_of").first()
    return {
        "journeys_active": journeys.get(JourneyStatus.ACTIVE, 0),
        "journeys_completed": journeys.get(JourneyStatus.COMPLETED, 0),
        "journeys_exited": journeys.get(JourneyStatus.EXITED, 0),
        "tasks_open": tasks.get(ActionStatus.OPEN, 0),
        "tasks_overdue": tasks.get(ActionStatus.OVERDUE, 0),
        "last_cycle": last.as_of if last else None,
    }


def default_as_of() -> dt.datetime:
    """What "now" means for views of the engine's state: the last finished cycle, else the wall clock.

    Between cycles the records only change by people's work, so a journey "as of the last cycle" shows the
    same day and stage the worklists were built for (and a history loaded for past dates reads sensibly).
    """
    last = CycleRun.objects.filter(status="finished").order_by("-as_of").values_list("as_of", flat=True).first()
    return last or clock.now()


def customer_by_msisdn(msisdn: str):
    from onboard90.customers.models import Customer

    customer = (
        Customer.objects.select_related("package", "city", "store", "vip_tier", "journey__playbook_version")
        .filter(msisdn=msisdn.strip())
        .first()
    )
    if customer is None:
        raise LookupError(f"未找到客户 / no customer with number {msisdn}")
    return customer


def journey_document(*, msisdn: str, as_of: dt.datetime) -> dict:
    """One customer's journey: every act of the playbook that applies, opened or still pending.

    Opened acts come from the database; pending ones are previewed with the Python form of the same
    rules the cycle compiles to SQL (anchor exists, audience holds, window not yet reached).
    """
    from onboard90.journeys.audience_sql import facts_of
    from onboard90.playbook.selectors import playbook_of

    customer = customer_by_msisdn(msisdn)
    journey = getattr(customer, "journey", None)
    if journey is None:
        raise LookupError(f"客户 {customer.masked_msisdn} 没有导入期旅程 / no journey for this customer")
    playbook = playbook_of(journey.playbook_version)
    today = clock.local_date(as_of)
    day = windows.journey_day(customer.activated_on, today)
    rows = {
        (row.action_code, row.occurrence): row
        for row in JourneyAction.objects.filter(journey=journey).select_related(
            "task__owner_unit", "task__assignee", "sms"
        )
    }
    facts = facts_of(customer)
    anchors = {
        "activation": customer.activated_on,
        "vip_rated": customer.vip_rated_on,
        "manager_assigned": customer.manager_assigned_on,
        "bill_issued": customer.first_bill_on,
        "data_surge": None,
    }
    actions = []
    for stage in playbook.stages:
        for action in stage.actions:
            row = rows.pop((action.code, 0), None)
            if row is not None:
                actions.append(_action_entry(row, stage.number))
                for code, occurrence in [key for key in rows if key[0] == action.code]:
                    actions.append(_action_entry(rows.pop((code, occurrence)), stage.number))
                continue
            if journey.status != JourneyStatus.ACTIVE:
                continue
            where, span = windows.phase(
                anchors=anchors, anchor=action.window.anchor, start=action.window.start, end=action.window.end,
                latest_day=action.window.latest_day, today=today,
            )
            if where not in ("not_yet", "due") or not audience_rules.evaluate(
                audience_rules.parse(action.audience), facts
            ):
                continue
            actions.append(
                {
                    "code": action.code,
                    "stage": stage.number,
                    "status": ActionStatus.PENDING.value,
                    "window_start": span.start.isoformat(),
                    "window_end": span.end.isoformat(),
                    "due_at": clock.end_of_day(span.end).isoformat(),
                    "owner_unit": None,
                    "assignee": None,
                    "deliveries": [],
                }
            )
    current = playbook.stage_on_day(day)
    return {
        "msisdn": customer.msisdn,
        "activated_on": customer.activated_on.isoformat(),
        "day": day,
        "stage": current.number if current else None,
        "status": journey.status,
        "vip": customer.is_vip,
        "playbook_version": journey.playbook_version.number,
        "actions": actions,
    }


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(clock.OPERATOR_TZ).isoformat()
    return value.isoformat()


def _action_entry(row: JourneyAction, stage: int) -> dict:
    task = getattr(row, "task", None)
    sms = getattr(row, "sms", None)
    deliveries = []
    if task is not None:
        deliveries.append({"kind": "task", "status": task.status})
    if sms is not None:
        deliveries.append({"kind": "sms", "status": sms.status})
    return {
        "code": row.action_code,
        "stage": stage,
        "status": row.status,
        "window_start": _iso(row.window_start),
        "window_end": _iso(row.window_end),
        "due_at": _iso(row.due_at),
        "owner_unit": task.owner_unit.code if task else None,
        "assignee": task.assignee.get_username() if task and task.assignee else None,
        "deliveries": deliveries,
    }


RUNNING_FILTER = "running"


def task_list(*, msisdn: str | None = None, status: str | None = None, unit: str | None = None, limit=None):
    """Tasks, newest due first; `status` is a task status, 'running' (open+overdue, the default) or 'all'."""
    tasks = Task.objects.select_related("journey__customer", "owner_unit", "assignee", "action").order_by(
        "due_at", "pk"
    )
    status = status or RUNNING_FILTER
    if status == RUNNING_FILTER:
        tasks = tasks.filter(status__in=[ActionStatus.OPEN, ActionStatus.OVERDUE])
    elif status != "all":
        if status not in ActionStatus.values:
            raise ValueError(f"未知状态 / unknown status {status!r} (choose running, all, {', '.join(ActionStatus.values)})")
        tasks = tasks.filter(status=status)
    if msisdn:
        tasks = tasks.filter(journey__customer__msisdn=msisdn.strip())
    if unit:
        tasks = tasks.filter(owner_unit__code=unit)
    if limit:
        tasks = tasks[:limit]
    return tasks


def task_entry(task: Task) -> dict:
    return {
        "id": task.pk,
        "msisdn": task.journey.customer.msisdn,
        "action": task.action.action_code,
        "status": task.status,
        "due_at": _iso(task.due_at),
        "owner_unit": task.owner_unit.code,
        "assignee": task.assignee.get_username() if task.assignee else None,
    }


REPORT_KEYS = {
    "city": "journey__customer__city__name",
    "store": "journey__customer__store__code",
    "staff": "staff",
    "action": "action_code",
}

COUNTED = [ActionStatus.DONE, ActionStatus.DONE_LATE, ActionStatus.MISSED, ActionStatus.OPEN, ActionStatus.OVERDUE]


def compliance_report(*, by: str, as_of: dt.datetime) -> dict:
    """合规报告: per city/store/staff/action, how many acts were due and how they ended.

    `due` counts every act that opened (done + done_late + missed + open + overdue); not_applicable,
    superseded and cancelled acts were never owed. on_time_rate = done / (done + done_late + missed),
    null while nothing has been closed. By staff, only acts with a staff task count, under the person who
    completed it or, while it runs, its assignee.
    """
    if by not in REPORT_KEYS:
        raise ValueError(f"--by 只能是 / must be one of: {', '.join(REPORT_KEYS)}")
    rows = JourneyAction.objects.filter(status__in=COUNTED, opened_at__lte=as_of)
    if by == "staff":
        rows = rows.annotate(staff=Coalesce(F("task__completed_by__username"), F("task__assignee__username"))).filter(
            staff__isnull=False
        )
    key = REPORT_KEYS[by]
    aggregates = {status: Count("id", filter=Q(status=status)) for status in COUNTED}
    grouped = rows.values(key).annotate(due=Count("id"), **aggregates).order_by(key)
    out = []
    for group in grouped:
        closed = group["done"] + group["done_late"] + group["missed"]
        out.append(
            {
                by: group[key],
                "due": group["due"],
                "done": group["done"],
                "done_late": group["done_late"],
                "missed": group["missed"],
                "open": group["open"],
                "overdue": group["overdue"],
                "on_time_rate": round(group["done"] / closed, 4) if closed else None,
            }
        )
    return {"by": by, "as_of": _iso(as_of), "rows": out}


def cycle_runs(limit: int = 30):
    return CycleRun.objects.order_by("-as_of", "-id")[:limit]


def dangling_references() -> dict[str, int]:
    """{"table.column": rows whose reference points nowhere} for each unchecked reference of the engine's rows.

    The database does not check these (see `journeys.models.ENGINE_WRITTEN`); one anti-join per reference.
    """
    from django.apps import apps
    from django.db.models import Exists, OuterRef

    from onboard90.journeys.models import ENGINE_WRITTEN

    found = {}
    for label in ENGINE_WRITTEN:
        model = apps.get_model(label)
        for field in model._meta.concrete_fields:
            if not field.is_relation or field.db_constraint:
                continue
            target = field.related_model._default_manager.filter(pk=OuterRef(field.attname))
            rows = model._default_manager.filter(**{f"{field.attname}__isnull": False}).filter(~Exists(target))
            found[f"{model._meta.db_table}.{field.column}"] = rows.count()
    return found
