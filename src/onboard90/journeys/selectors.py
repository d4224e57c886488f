"""Reads over journeys, actions and tasks: one journey's document, worklists, figures and reports."""

from __future__ import annotations

import datetime as dt
import difflib

from django.apps import apps
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q
from django.db.models.functions import Coalesce

from onboard90.catalog.tariff import to_yuan
from onboard90.core import clock
from onboard90.core.language import pick
from onboard90.customers.models import Customer
from onboard90.journeys import usage_acts
from onboard90.journeys.audience_sql import facts_of
from onboard90.journeys.enums import RUNNING, ActionStatus, JourneyStatus
from onboard90.journeys.models import ENGINE_WRITTEN, CycleRun, Journey, JourneyAction, Task, TaskAttempt
from onboard90.journeys.rules import assignment, windows
from onboard90.journeys.rules import audience as audience_rules
from onboard90.journeys.rules.assignment import CHANNEL_UNIT_KIND
from onboard90.journeys.rules.tasks import may_act
from onboard90.journeys.scoping import customer_filter, takeable_customer_filter, takeable_filter, task_filter
from onboard90.org.enums import Role, UnitKind
from onboard90.org.models import StaffProfile, Unit
from onboard90.org.scoping import UNIT, Scope, scope_of
from onboard90.org.selectors import city_lookup, unit_lookup
from onboard90.playbook.models import PlaybookVersion
from onboard90.playbook.selectors import playbook_of
from onboard90.usage.verdicts import package_fit_verdicts


def versions_in_use():
    """The playbook versions that active journeys run on (the cycle works through each).

    One index probe per published version rather than a DISTINCT over every active journey: there are a
    handful of versions and a million journeys.
    """
    active = Journey.objects.filter(playbook_version=OuterRef("pk"), status=JourneyStatus.ACTIVE)
    return list(PlaybookVersion.objects.filter(Exists(active)).order_by("number"))


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
    """What "now" means for views of the engine's state: the clock's now, never a later cycle's as-of (a cycle
    run ahead of time by mistake must not move every report into the future)."""
    return clock.now()


# The published playbook's whole document (tens of kB of JSON): parsed once per process from its own query
# (`playbook_of`), never needed on a row read beside a customer.
PLAYBOOK_DOCUMENT = "journey__playbook_version__document"


def customer_by_msisdn(msisdn: str):
    customer = (
        Customer.objects.select_related(
            "package", "city", "store", "vip_tier", "journey__playbook_version", "package_fit"
        )
        .defer(PLAYBOOK_DOCUMENT)
        .filter(msisdn=msisdn.strip())
        .first()
    )
    if customer is None:
        raise LookupError(f"未找到客户 / no customer with number {msisdn}")
    return customer


def journey_document(*, msisdn: str, as_of: dt.datetime) -> dict:
    """One customer's journey: every act of the playbook that applies, opened or still pending.

    Opened acts come from the database; pending ones are previewed with the Python form of the same
    rules the cycle compiles to SQL (anchor exists, audience holds, window not yet reached; its dates and
    due instant; the unit its task will be on, if its task's audience holds).
    """
    customer = customer_by_msisdn(msisdn)
    journey = getattr(customer, "journey", None)
    if journey is None:
        raise LookupError(f"客户 {customer.masked_msisdn} 没有导入期旅程 / no journey for this customer")
    acts = JourneyAction.objects.filter(journey=journey).select_related("task__owner_unit", "task__assignee", "sms")
    return _document(customer=customer, journey=journey, as_of=as_of, acts=list(acts))


def _document(*, customer, journey, as_of: dt.datetime, acts: list[JourneyAction]) -> dict:
    """`journey_document` of a customer already read, from their act rows already read (each with its task's
    owner unit and assignee, and its SMS): the customer page reads them once for both."""
    playbook = playbook_of(journey.playbook_version)
    today = clock.local_date(as_of)
    day = windows.journey_day(customer.activated_on, today)
    rows = {(row.action_code, row.occurrence): row for row in acts}
    facts = facts_of(customer)
    fit = _package_fit_preview(customer, playbook=playbook, today=today)
    if fit is not None:
        facts["package_fit"] = fit["verdict"]  # the verdict the cycle would store today, if none is stored
    anchors = {
        "activation": customer.activated_on,
        "vip_rated": customer.vip_rated_on,
        "manager_assigned": customer.manager_assigned_on,
        "bill_issued": customer.first_bill_on,
        "data_surge": None,
    }
    actions = []
    owners = _Owners(customer)
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
                    "due_at": windows.due_at(span).isoformat(),
                    "owner_unit": owners.code(action.task, facts),
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
        "package_fit": fit,
        "actions": actions,
    }


def _package_fit_preview(customer, *, playbook, today: dt.date) -> dict | None:
    """The package-fit verdict as the cycle uses it: the stored one (`stored`: true), else the one the
    cycle's verdict step would make today from the usage on file, by the same function and the playbook's
    thresholds (`stored`: false); None when there is no complete month of usage to price."""
    stored = getattr(customer, "package_fit", None)
    if stored is not None:
        return {
            "stored": True, "verdict": stored.verdict, "recommended": stored.recommended,
            "monthly_saving": float(to_yuan(stored.saving)), "as_of": stored.as_of.isoformat(),
            "months": stored.months.split(","), "explanation": stored.explanation,
        }
    found = package_fit_verdicts([customer.pk], today=today, thresholds=usage_acts.thresholds_of(playbook))
    if not found:
        return None
    verdict = found[0]
    return {
        "stored": False, "verdict": str(verdict.verdict), "recommended": verdict.recommended,
        "monthly_saving": float(to_yuan(verdict.saving)), "as_of": today.isoformat(), "months": verdict.months,
        "explanation": verdict.explanation,
    }


class _Owners:
    """The unit a pending act's task will be on (`rules.assignment.owner_unit`), as the unit's code; the
    customer's city units are read once, when the first act with a task asks."""

    def __init__(self, customer):
        self.customer = customer
        self.units: list[tuple[int, str, bool]] | None = None
        self.codes: dict[int, str] = {}

    def code(self, task, facts) -> str | None:
        if task is None or not audience_rules.evaluate(audience_rules.parse(task.audience), facts):
            return None
        if self.units is None:
            rows = list(Unit.objects.filter(city_id=self.customer.city_id).values_list(*assignment.UNIT_FIELDS, "code"))
            self.units = [(pk, kind, is_main) for pk, kind, is_main, _ in rows]
            self.codes = {pk: code for pk, _, _, code in rows}
            self.codes[self.customer.store_id] = self.customer.store.code
        owner = assignment.owner_unit(task.channel, store_id=self.customer.store_id, city_units=self.units)
        return self.codes[owner]


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
        deliveries.append({"kind": "task", "status": task.status, "backdated": task.backdated})
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


def task_list(
    *, msisdn: str | None = None, status: str | None = None, unit: str | None = None, city: str | None = None,
    action: str | None = None, limit=None,
):
    """Tasks, soonest due first; `status` is a task status, 'running' (open+overdue, the default) or 'all'.

    An unknown unit, city, action or status is refused with the valid values (ValueError), never answered
    with an empty list that reads as "nothing to do".
    """
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
        tasks = tasks.filter(owner_unit=_unit_or_refusal(unit))
    if city:
        tasks = tasks.filter(owner_unit__city=city_lookup(city))
    if action:
        codes = _action_codes()
        if action not in codes:
            raise ValueError(f"未知动作 / unknown action {action!r} (choose: {', '.join(sorted(codes))})")
        tasks = tasks.filter(action__action_code=action)
    if limit:
        tasks = tasks[:limit]
    return tasks


def _unit_or_refusal(code: str):
    """The unit a worklist asks for. A province has about a hundred units, too many for one line, so a
    refusal names those that look like what was typed (a near code, or the units of the city it begins with),
    then the first 20 of all, and where to see every one."""
    try:
        return unit_lookup(code)
    except ValueError:
        pass
    typed = str(code).strip().lower()
    codes = list(Unit.objects.order_by("code").values_list("code", flat=True))
    same_city = [c for c in codes if c.startswith(typed.split("-")[0] + "-")]
    near = set(difflib.get_close_matches(typed, codes, n=6, cutoff=0.75)) | set(same_city[:12])
    hint = f"相近 / did you mean: {', '.join(sorted(near))}; " if near else ""
    shown = ", ".join(codes[:20]) + (", …" if len(codes) > 20 else "")
    raise ValueError(
        f"未知单位 / unknown unit: {code!r}. {hint}可用 / known ({len(codes)}): {shown or '-'} "
        "(全部单位见管理后台 / every unit: the admin's 单位 list, /admin/org/unit/)"
    )


def _action_codes() -> set[str]:
    """The act codes of every playbook version in use (what `--action` may name)."""
    return {a.code for version in versions_in_use() for a in playbook_of(version).actions}


def task_entry(task: Task) -> dict:
    return {
        "id": task.pk,
        "backdated": task.backdated,
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
# The report's columns, in order; the README's "报表口径 / How the figures are counted" states the same definitions.
FIGURES = ["due", "done", "done_late", "backdated", "missed", "open", "overdue", "on_time_rate"]
FIGURES_ZH = ["应做", "按时", "超时完成", "补录", "未完成", "进行中", "已超时", "按时率"]
UNASSIGNED = "未分配 / unassigned"
PROVINCE = "全省 / province"
CITY_TOTAL = "全市 / city"


def figures(*, done: int, done_late: int, backdated: int, missed: int, open: int, overdue: int) -> dict:
    """口径 — the one definition of the compliance figures, for the CLI table, its JSON and Excel, and the web:

    - due (应做) = done + done_late + backdated + missed + open + overdue: every act that opened and was owed
      (not_applicable, superseded and cancelled acts were never owed and appear nowhere);
    - done (按时) / done_late (超时完成): closed by / after the due time, by a completion entered within the
      grace (`ONBOARD90_COMPLETION_GRACE_HOURS`, 24 h);
    - backdated (补录): closed by a completion entered more than the grace after the time it claims, counted
      apart and never as on time, whatever time it claims;
    - missed (未完成): never delivered (window closed, unreachable, journey ended, or already late when a VIP
      rating superseded it);
    - open (进行中) / overdue (已超时): still running, before / after its due time at the as-of (an act still
      marked open whose due time has passed is overdue: the next cycle only records what is already true);
    - on_time_rate (按时率) = done / (done + done_late + backdated + missed + overdue): work already late counts
      against the rate while it is still running; open acts not yet due are left out; None (null, "-") when
      nothing counts. Rounded to 4 places.
    """
    owed = done + done_late + backdated + missed + overdue
    return {
        "due": owed + open, "done": done, "done_late": done_late, "backdated": backdated, "missed": missed,
        "open": open, "overdue": overdue, "on_time_rate": round(done / owed, 4) if owed else None,
    }


def closed_counts(task: str = "task") -> dict:
    """The aggregates of the closed outcomes (see `figures`), over JourneyAction rows: a completion entered
    late (the task's `backdated` mark) is counted apart from on-time and late work. Shared by the report and
    the dashboard's precomputed cells (`reporting.services`), which differ only in how they count running acts.
    `task`: the relation the act's task is read through (the cells join it by act and customer)."""
    late_entry = Q(**{f"{task}__backdated": True})
    return {
        "done": Count("id", filter=Q(status=ActionStatus.DONE) & ~late_entry),
        "done_late": Count("id", filter=Q(status=ActionStatus.DONE_LATE) & ~late_entry),
        "backdated": Count("id", filter=Q(status__in=[ActionStatus.DONE, ActionStatus.DONE_LATE]) & late_entry),
        "missed": Count("id", filter=Q(status=ActionStatus.MISSED)),
    }


def compliance_report(
    *, by: str, as_of: dt.datetime, due_from: dt.date | None = None, due_to: dt.date | None = None,
    city_id: int | None = None,
) -> dict:
    """合规报告: per city/store/staff/action, how many acts were due and how they ended (see `figures`).

    Counts every act opened by `as_of`. `due_from`/`due_to` keep the acts whose due date (the local date of
    `due_at`; `window_end` for an act without a due time) lies in the range, inclusive.

    By staff, each act with a staff task counts under the person who completed it or, while it runs, its
    assignee; a unit's work assigned to no one has a row of its own per unit (label "未分配 / unassigned @
    <unit>", with the unit's code in `unit`), so the rows add up to every task-act. SMS-only acts have no
    staff and are left out of that view only (they are in the city, store and action views).

    `total` is the province (全省) over the same acts, by the same definitions. One query, whatever the
    number of rows. With `city_id` (a city supervisor's report, e.g. through the API), only that city's
    customers' acts count, and `total` is the city's (全市).
    """
    if by not in REPORT_KEYS:
        raise ValueError(f"--by 只能是 / must be one of: {', '.join(REPORT_KEYS)}")
    if due_from and due_to and due_from > due_to:
        raise ValueError(f"开始日期晚于结束日期 / --from {due_from} is after --to {due_to}")
    rows = JourneyAction.objects.filter(status__in=COUNTED, opened_at__lte=as_of)
    if city_id is not None:
        rows = rows.filter(journey__customer__city_id=city_id)
    if due_from:
        rows = rows.filter(Q(due_at__gte=clock.at_local(due_from)) | Q(due_at__isnull=True, window_end__gte=due_from))
    if due_to:
        # Before the next local midnight rather than <= 23:59:59, so a due time with a fraction of a second counts.
        next_day = clock.at_local(due_to + dt.timedelta(days=1))
        rows = rows.filter(Q(due_at__lt=next_day) | Q(due_at__isnull=True, window_end__lte=due_to))
    keys = [REPORT_KEYS[by]]
    if by == "staff":
        rows = rows.filter(task__isnull=False).annotate(
            staff=Coalesce(F("task__completed_by__username"), F("task__assignee__username")),
            unit=F("task__owner_unit__code"),
        )
        keys.append("unit")
    past_due = Q(due_at__lt=as_of)
    aggregates = {
        **closed_counts(),
        "open": Count("id", filter=Q(status=ActionStatus.OPEN) & ~past_due),
        "overdue": Count("id", filter=Q(status=ActionStatus.OVERDUE) | (Q(status=ActionStatus.OPEN) & past_due)),
    }
    grouped = rows.values(*keys).annotate(**aggregates).order_by(*keys)
    merged: dict = {}
    for group in grouped:
        label, unit = group[keys[0]], None
        if by == "staff" and not group["staff"]:
            # A person's row sums their work over units; the work assigned to no one stays per unit.
            label, unit = f"{UNASSIGNED} @ {group['unit']}", group["unit"]
        counts = merged.setdefault(label, dict.fromkeys(aggregates, 0) | {"unit": unit})
        for name in aggregates:
            counts[name] += group[name]
    labels = list(merged)
    if by == "staff":
        # People by name, then each unit's unassigned work: the same order on every database.
        labels.sort(key=lambda label: (merged[label]["unit"] is not None, str(label)))
    out, total = [], dict.fromkeys(aggregates, 0)
    for label in labels:
        counts = merged[label]
        row = {by: label, **figures(**{name: counts[name] for name in aggregates})}
        if by == "staff":
            row["unit"] = counts["unit"]
        out.append(row)
        for name in aggregates:
            total[name] += counts[name]
    return {
        "by": by, "as_of": _iso(as_of), "from": _iso(due_from), "to": _iso(due_to), "rows": out,
        "total": {by: PROVINCE if city_id is None else CITY_TOTAL, **figures(**total)},
    }


def cycle_runs(limit: int = 30):
    return CycleRun.objects.order_by("-as_of", "-id")[:limit]


def dangling_references() -> dict[str, int]:
    """{"table.column": rows whose reference points nowhere} for each unchecked reference of the engine's rows.

    The database does not check these (see `journeys.models.ENGINE_WRITTEN`); one anti-join per reference.
    """
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


# --- the staff's screens: the workbench and the customer page ----------------------------------------

WORKBENCH_LISTS = ("today", "overdue", "upcoming")
SEGMENTS = ("vip", "number_changed", "prepaid", "postpaid")
WORKBENCH_PAGE = 50
UPCOMING_DAYS = 7
# A list's tab counts its tasks exactly up to this many (`workbench_counts`).
WORKBENCH_COUNTED = 10_000


def playbook_labels() -> dict:
    """The names of acts and stages over every published version (newest wins), for lists that show tasks of
    journeys started on different versions: Chinese, or the playbook's English on an English page. One small
    query (the documents are cached per version)."""
    acts: dict[str, dict] = {}
    stages: dict[int, str] = {}
    for version in PlaybookVersion.objects.only("pk", "checksum", "number").order_by("number"):
        playbook = playbook_of(version)
        for stage in playbook.stages:
            stages[stage.number] = pick(stage.name, stage.name_en)
            for action in stage.actions:
                acts[action.code] = {
                    "name": pick(action.name, action.name_en), "stage": stage.number, "has_task": action.task is not None
                }
    return {"acts": acts, "stages": stages}


def workbench_bounds(as_of: dt.datetime) -> dict[str, tuple[dt.datetime | None, dt.datetime | None]]:
    """The three lists as due-time ranges [from, to): overdue is everything already past its due time, due
    today what is still ahead today, coming up the next seven days. They do not overlap."""
    today = clock.local_date(as_of)
    tomorrow = clock.at_local(today + dt.timedelta(days=1))
    return {
        "overdue": (None, as_of),
        "today": (as_of, tomorrow),
        "upcoming": (tomorrow, clock.at_local(today + dt.timedelta(days=1 + UPCOMING_DAYS))),
    }


def _due_between(bounds: tuple[dt.datetime | None, dt.datetime | None]) -> Q:
    start, end = bounds
    q = Q()
    if start is not None:
        q &= Q(due_at__gte=start)
    if end is not None:
        q &= Q(due_at__lt=end)
    return q


def workbench_tasks(*, scope, filters: dict):
    """The running tasks a user's workbench may show, with the filters applied (already checked values:
    action code, stage number, status, segment, unit id, msisdn or its last four digits)."""
    tasks = Task.objects.filter(task_filter(scope), status__in=[ActionStatus.OPEN, ActionStatus.OVERDUE])
    return _filtered(tasks, filters)


def _filtered(tasks, filters: dict):
    """The workbench's filters (already checked values) over a queryset of tasks."""
    if filters.get("action"):
        tasks = tasks.filter(action__action_code=filters["action"])
    if filters.get("stage"):
        tasks = tasks.filter(action__stage=filters["stage"])
    if filters.get("status"):
        tasks = tasks.filter(status=filters["status"])
    if filters.get("unit"):
        tasks = tasks.filter(owner_unit_id=filters["unit"])
    segment = filters.get("segment")
    if segment == "vip":
        tasks = tasks.filter(journey__customer__vip_tier__isnull=False)
    elif segment == "number_changed":
        tasks = tasks.filter(journey__customer__number_changed=True)
    elif segment in ("prepaid", "postpaid"):
        tasks = tasks.filter(journey__customer__product=segment)
    number = filters.get("number")
    if number:
        if len(number) == 11:
            tasks = tasks.filter(journey__customer__msisdn=number)
        else:  # the last four digits, as staff read them off a masked number or a customer's card
            tasks = tasks.filter(journey__customer__msisdn__endswith=number)
    return tasks


def workbench(*, scope, filters: dict, as_of: dt.datetime, which: str | None = None, after: tuple | None = None,
              limit: int = WORKBENCH_PAGE) -> dict:
    """工作台: counts of the three lists (one aggregate query) and one page of the chosen list, soonest due
    first, paged by key (due time, id) so that page 200 costs what page 1 does. With no list chosen, the
    first that has work: overdue, then due today, then coming up."""
    bounds = workbench_bounds(as_of)
    tasks = workbench_tasks(scope=scope, filters=filters)
    counts = workbench_counts(scope=scope, filters=filters, bounds=bounds)
    if which not in WORKBENCH_LISTS:
        which = next((name for name in ("overdue", "today", "upcoming") if counts[name]), "today")
    page = tasks.filter(_due_between(bounds[which]))
    if after is not None:
        due, pk = after
        page = page.filter(Q(due_at__gt=due) | Q(due_at=due, pk__gt=pk))
    rows = list(with_row_relations(page.order_by("due_at", "pk")[: limit + 1]))
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "which": which,
        "counts": counts,
        "rows": rows,
        "next": (rows[-1].due_at, rows[-1].pk) if more and rows else None,
    }


def with_row_relations(tasks):
    """What a list row shows of its task: its act, customer, VIP tier, unit and assignee. The act and customer
    are joined; the tier, unit and assignee — small tables — come by id in a query each: a join of all seven
    tables costs PostgreSQL more to plan (~5 ms) than the page's rows cost to read."""
    return tasks.select_related("journey__customer", "action").prefetch_related(
        "journey__customer__vip_tier", "owner_unit", "assignee__staff"
    )


def workbench_counts(*, scope, filters: dict, bounds: dict) -> dict[str, int]:
    """{list: its number of tasks}, each counted exactly up to WORKBENCH_COUNTED and as WORKBENCH_COUNTED + 1
    beyond (`10000+`): what a tab needs, at a cost bounded whatever the scope — the province has hundreds of
    thousands of overdue tasks, which the administrator reads as "a lot" from the tab and exactly on the
    dashboard. One statement: per list, the ids in range up to the bound (read from the running-task indexes
    alone where the scope allows it), counted.

    A unit's work is its own tasks plus the ones assigned to the user in another unit, counted as two parts
    (the second without the first) so that each is a range of one index — `owner OR assignee` in one
    condition would read every task's row."""
    if scope.kind == UNIT and scope.unit_id is not None:
        running = Task.objects.filter(status__in=RUNNING)
        parts = [
            _filtered(running.filter(owner_unit_id=scope.unit_id), filters),
            _filtered(running.filter(assignee_id=scope.user_id).exclude(owner_unit_id=scope.unit_id), filters),
        ]
    else:
        parts = [workbench_tasks(scope=scope, filters=filters)]
    selects, params = [], []
    for name in WORKBENCH_LISTS:
        unions = []
        for part in parts:
            try:
                sql, part_params = part.filter(_due_between(bounds[name])).values("id").query.sql_with_params()
            except EmptyResultSet:  # a scope that reaches nothing
                continue
            unions.append(f"SELECT * FROM ({sql}) p")
            params.extend(part_params)
        if not unions:
            return dict.fromkeys(WORKBENCH_LISTS, 0)
        selects.append(f"(SELECT COUNT(*) FROM ({' UNION ALL '.join(unions)} LIMIT {WORKBENCH_COUNTED + 1}) c)")
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(selects), params)
        row = cursor.fetchone()
    return dict(zip(WORKBENCH_LISTS, row, strict=True))


_ASK = object()  # "work out the unit's takeable reach if it is needed"


def customer_in_scope(*, scope, msisdn: str, reach=_ASK):
    """The customer with this number if the scope reaches them; None otherwise (unknown and out of scope
    are the same answer). Staff whose unit may take work of another unit (`takeable_reach`, which the caller
    may pass if it has it) also reach the customers of the tasks they may take."""
    msisdn = (msisdn or "").strip()
    if not (len(msisdn) == 11 and msisdn.isdigit()):
        return None
    customers = (
        Customer.objects.select_related(
            "package", "city", "store", "vip_tier", "account_manager__staff", "journey__playbook_version",
            "package_fit",
        )
        .defer(PLAYBOOK_DOCUMENT)
        .filter(msisdn=msisdn)
    )
    found = customers.filter(customer_filter(scope)).first()
    if found is None:
        reach = takeable_reach(scope) if reach is _ASK else reach
        if reach is not None:
            found = customers.filter(takeable_customer_filter(**reach)).first()
    return found


def task_in_scope(*, scope, task_id: int):
    """A task the scope reaches (with what the services and the customer page read of it), or None. A task
    the user's unit may take (`takeable_tasks`) is reached too: its page opens and it can be taken."""
    tasks = Task.objects.select_related(
        "action", "owner_unit__city", "assignee", "journey__customer", "journey__playbook_version"
    ).filter(pk=task_id)
    found = tasks.filter(task_filter(scope)).first()
    if found is None:
        reach = takeable_reach(scope)
        if reach is not None:
            found = tasks.filter(takeable_filter(**reach)).first()
    return found


# --- work another unit may take (领取) ------------------------------------------------------------------


def takeable_unit_kinds(spec) -> set[str]:
    """The unit kinds that may take a task of this spec onto their own desk (`TaskSpec.takeable_by`, each
    channel read as the engine reads it: store a store, club the city's club…); none without a staff task."""
    if spec is None:
        return set()
    kinds = {"store": UnitKind.STORE, **CHANNEL_UNIT_KIND}
    return {str(kinds[channel]) for channel in spec.takeable_by if channel in kinds}


def takeable_codes(unit_kind: str) -> dict[int, set[str]]:
    """{playbook version id: the codes of the acts whose task a unit of this kind may take}, over every
    published version; a version with none is left out. One small query (the documents are cached)."""
    codes: dict[int, set[str]] = {}
    for version in PlaybookVersion.objects.only("pk", "checksum"):
        found = {
            action.code for action in playbook_of(version).actions
            if action.task is not None and unit_kind in takeable_unit_kinds(action.task)
        }
        if found:
            codes[version.pk] = found
    return codes


def takeable_reach(scope) -> dict | None:
    """What the scope's unit may take, as the keyword arguments of `journeys.scoping.takeable_filter` (unit, its
    city, act codes per playbook version); None for anyone without a unit or whose unit may take nothing.
    Two small queries (the unit, the playbook versions)."""
    if scope.kind != UNIT or scope.unit_id is None:
        return None
    unit = Unit.objects.filter(pk=scope.unit_id).values_list("kind", "city_id").first()
    if unit is None:
        return None
    codes = takeable_codes(unit[0])
    if not codes:
        return None
    return {"unit_id": scope.unit_id, "city_id": unit[1], "codes": codes}


def takeable_tasks(scope_or_user, *, filters: dict | None = None, reach=_ASK):
    """可领取: the running tasks the user may take onto their own unit's desk (`services.task_take`), soonest
    due first — owned by another unit of their city, of an act the playbook version of the task's journey
    lets their unit's kind take (the club takes the stores' hands-on coaching). The workbench's filters
    apply (a walk-in customer is found by number). One query; none for anyone else."""
    scope = scope_or_user if isinstance(scope_or_user, Scope) else scope_of(scope_or_user)
    reach = takeable_reach(scope) if reach is _ASK else reach
    if reach is None:
        return Task.objects.none()
    return _filtered(Task.objects.filter(takeable_filter(**reach)), filters or {}).order_by("due_at", "pk")


def customer_journey(*, customer, as_of: dt.datetime) -> dict:
    """The customer page's journey: `journey_document`'s acts (opened and still pending, by the same rules),
    each opened one with its row, task (owner unit, assignee, attempts) and SMS. A fixed number of queries
    however many acts there are."""
    journey = getattr(customer, "journey", None)
    if journey is None:
        return {"journey": None, "acts": [], "playbook": None, "day": None, "stage": None}
    playbook = playbook_of(journey.playbook_version)
    rows = list(
        JourneyAction.objects.filter(journey=journey)
        .select_related("task__owner_unit__city", "task__assignee__staff", "task__completed_by__staff", "sms")
        .prefetch_related(
            Prefetch("task__attempt_log", queryset=TaskAttempt.objects.select_related("by__staff").order_by("at", "id"))
        )
        .order_by("action_code", "occurrence")
    )
    document = _document(customer=customer, journey=journey, as_of=as_of, acts=rows)
    by_code: dict[str, list[JourneyAction]] = {}
    for row in rows:
        by_code.setdefault(row.action_code, []).append(row)
    acts = []
    for entry in document["actions"]:
        spec = playbook.action(entry["code"])
        row = None
        if entry["status"] != ActionStatus.PENDING and by_code.get(entry["code"]):
            row = by_code[entry["code"]].pop(0)
        acts.append({
            "code": entry["code"],
            "spec": spec,
            "stage": entry["stage"],
            "status": row.status if row else entry["status"],
            "window_start": row.window_start if row else dt.date.fromisoformat(entry["window_start"]),
            "window_end": row.window_end if row else dt.date.fromisoformat(entry["window_end"]),
            "due_at": row.due_at if row else None,
            "row": row,
            "task": getattr(row, "task", None) if row else None,
            "sms": getattr(row, "sms", None) if row else None,
        })
    return {
        "journey": journey,
        "acts": acts,
        "playbook": playbook,
        "day": document["day"],
        "stage": document["stage"],
    }


def city_staff_and_units(*, city_id: int) -> dict:
    """Where a supervisor may move a task of this city: its units and its active staff (two queries)."""
    return {
        "units": list(Unit.objects.filter(city_id=city_id).order_by("kind", "-is_main", "name")),
        "staff": list(
            StaffProfile.objects.filter(active=True, user__is_active=True)
            .filter(Q(city_id=city_id) | Q(unit__city_id=city_id))
            .select_related("user", "unit")
            .order_by("unit__kind", "unit__name", "display_name", "user__username")
        ),
    }


# --- who may work a task (the permission reads the services and the pages share) -----------------------


def is_supervisor_of(*, user, task: Task) -> bool:
    """The supervisor of the city that owns the task, or a province administrator."""
    profile = getattr(user, "staff", None)
    if user.is_superuser or (profile and profile.active and profile.role == Role.PROVINCE_ADMIN):
        return True
    return bool(
        profile and profile.active and profile.role == Role.SUPERVISOR and profile.city_id == task.owner_unit.city_id
    )


def can_act_on(*, user, task: Task) -> bool:
    """Scope (`rules.tasks.may_act`): the assignee, staff of the owning unit, the city's supervisor, or a
    province admin."""
    profile = getattr(user, "staff", None)
    return may_act(
        role=profile.role if profile else None, active=bool(profile and profile.active), superuser=user.is_superuser,
        user_id=user.pk, user_city_id=profile.city_id if profile else None,
        user_unit_id=profile.unit_id if profile else None, assignee_id=task.assignee_id,
        owner_unit_id=task.owner_unit_id, owner_city_id=task.owner_unit.city_id,
    )
