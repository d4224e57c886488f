"""运营看板: the supervisor's and the province's operational figures — the VIP clocks, overdue work and
escalations, the SMS outbox, and the human workload per unit (today, and forecast for the next 14 days) —
and the escalation list itself (升级处理).

Plain reads, every one scoped by `org.scoping` (a supervisor's city, or the province). Each figure is one
aggregate statement whatever the number of rows it summarises: nothing here loops over records in Python
except the grouped results of those statements (a few thousand groups at most), so the number of queries
never grows with the data. What each statement reads, and through which index, is said beside it.

Every section comes back as a *table* (`title`, `headers`, `rows` of raw values, `formats`, an optional
`total`) — the same rows feed the page and the Excel export, so the two cannot differ — and a *chart*
(categories and series, ready for ECharts).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import (
    Case,
    CharField,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext, gettext_noop, ngettext

from onboard90.catalog.tariff import to_yuan
from onboard90.core import clock
from onboard90.core.cache import cache_put, cached_once
from onboard90.core.language import day_month, is_english, pick
from onboard90.core.masking import mask_msisdn
from onboard90.customers.models import Customer
from onboard90.journeys import audience_sql
from onboard90.journeys.engine import ANCHOR_COLUMNS
from onboard90.journeys.enums import RUNNING, ActionStatus, JourneyStatus, TaskKind
from onboard90.journeys.models import Escalation, Journey, JourneyAction, Task
from onboard90.journeys.rules.assignment import CHANNEL_UNIT_KIND
from onboard90.messaging import policy
from onboard90.messaging.enums import Delivery, MessageStatus
from onboard90.messaging.models import OutboxMessage
from onboard90.org.enums import Role, UnitKind
from onboard90.org.models import City, StaffProfile, Unit
from onboard90.org.scoping import CITY, PROVINCE, Scope, city_filter, escalation_filter
from onboard90.playbook.models import PlaybookVersion
from onboard90.playbook.selectors import playbook_of
from onboard90.usage.models import FitVerdict, OfferChoice, PackageFitVerdict

FORECAST_DAYS = 14
TABLES = ("vip", "overdue", "sms", "workload", "forecast", "usage")

# Cell formats the page and the export share: "int" a count, "pct" a fraction shown as a percentage,
# "yuan" an amount already written with its two decimals (aligned as a number), "text" as is.
INT, PCT, TEXT, YUAN = "int", "pct", "text", "yuan"

KIND_ORDER = [UnitKind.STORE, UnitKind.CLUB, UnitKind.CALL_CENTRE, UnitKind.ACCOUNT_MANAGER_TEAM]


# --- the playbook's clocks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class VipClocks:
    """The VIP acts and their clocks, read from the playbook rather than written here twice."""

    assignment_code: str = "vip_manager_assignment"
    assignment_days: int = 3  # the manager within 3 days of the rating
    callback_code: str = "vip_first_callback"
    callback_days: int = 7  # the first call within 7 days of the assignment
    rating_deadline_day: int = 10  # rated later than day 10: the ordinary callback came first (late rating)


def vip_clocks(playbook) -> VipClocks:
    """The assignment act is the system act that assigns a manager; the VIP callback is the staff act anchored
    on the assignment; the rating deadline is the end of the window of the ordinary callback that the VIP
    callback supersedes (方案: 评定滞后，晚于入网后10日)."""
    defaults = VipClocks()
    assignment = next((a for a in playbook.actions if a.system == "assign_account_manager"), None)
    callback = next(
        (a for a in playbook.actions if a.window.anchor == "manager_assigned" and a.task is not None), None
    )
    ordinary = next(
        (a for a in playbook.actions if callback is not None and a.superseded_by == callback.code), None
    )
    return VipClocks(
        assignment_code=assignment.code if assignment else defaults.assignment_code,
        assignment_days=assignment.window.end if assignment else defaults.assignment_days,
        callback_code=callback.code if callback else defaults.callback_code,
        callback_days=callback.window.end if callback else defaults.callback_days,
        rating_deadline_day=ordinary.window.end if ordinary else defaults.rating_deadline_day,
    )


def _versions():
    """Every published version (a handful) with its parsed playbook, newest last: one query."""
    return [
        (v, playbook_of(v))
        for v in PlaybookVersion.objects.only("id", "number", "checksum").order_by("number")
    ]


def act_names(versions) -> dict[str, str]:
    """{act code: name} over every version (a newer version's name wins): the playbook's English name on an
    English page, the Chinese otherwise."""
    names: dict[str, str] = {}
    for _, playbook in versions:
        names.update({a.code: pick(a.name, a.name_en) for a in playbook.actions})
    return names


# --- units --------------------------------------------------------------------------------------------------


def _units(scope: Scope) -> dict[int, dict]:
    """{unit id: its row} of the scope's cities, in display order (city, kind, main store first): one query
    over the unit table (hundreds of rows for a province)."""
    rows = (
        Unit.objects.filter(city_filter(scope))
        .order_by("city__sort_order", "city__code", "kind", "-is_main", "id")
        .values("id", "name", "kind", "is_main", "city_id", "city__name", "city__name_en")
    )
    kinds = dict(UnitKind.choices)
    return {
        r["id"]: {
            **r,
            "kind_label": str(kinds.get(r["kind"], r["kind"])),
            "city__name": pick(r["city__name"], r["city__name_en"]),
        }
        for r in rows
    }


def _unit_sort_key(units: dict[int, dict]):
    order = {pk: i for i, pk in enumerate(units)}
    return lambda pk: order.get(pk, len(order))


# --- the overview --------------------------------------------------------------------------------------------


# How long a reading of the operations figures is shown as it is (秒). Each section aggregates live tables of the
# province (every running task, every VIP, the outbox of the range): at a million customers that is ~1–3 s of
# database time, too much to spend on every look at the dashboard. Nothing here moves minute by minute (the cycle
# opens the day's work once, overdue marks come with it, a supervisor's acknowledgement shows on the escalation
# list at once), so the page and its exports share one reading; one older than this is replaced by the next
# request, while the others are shown it meanwhile (`core.cache`). The compliance figures above them are the
# precomputed cells, exact at every request.
OVERVIEW_FRESH_SECONDS = 300
# A reading is shown, however old, for the rest of its day (the key holds the date): after the daily cycle the
# scopes' readings are made ahead of the first look (`operations_refresh`), so no one waits for them.
OVERVIEW_KEEP_SECONDS = 26 * 3600


def _overview_key(*, scope: Scope, date_from: dt.date, date_to: dt.date, today: dt.date) -> str:
    return "onboard90:ops:" + ":".join(
        str(part) for part in (scope.kind, scope.city_id, date_from, date_to, today, get_language())
    )


def operations_overview(
    *, scope: Scope, date_from: dt.date, date_to: dt.date, today: dt.date, only: str | None = None
) -> dict:
    """The operations sections for `scope`: one reading per scope, range, day and language, shared by the page
    and its exports, replaced once older than OVERVIEW_FRESH_SECONDS."""
    if not scope.is_supervising:
        return {}
    overview = cached_once(
        _overview_key(scope=scope, date_from=date_from, date_to=date_to, today=today),
        fresh=OVERVIEW_FRESH_SECONDS,
        keep=OVERVIEW_KEEP_SECONDS,
        compute=lambda: operations_overview_now(scope=scope, date_from=date_from, date_to=date_to, today=today),
    )
    if only is None:
        return overview
    return {k: v for k, v in overview.items() if k not in TABLES or k == only}


def operations_refresh(*, today: dt.date, date_from: dt.date, date_to: dt.date) -> list[str]:
    """Make the readings the dashboards open with — the province's and each city's, over the default range, in
    the default language — ahead of the first look (after the daily cycle); the scopes read, e.g. ["全省", "济南"].
    Each costs what a first look would (seconds at a million customers), paid by the job, not by a supervisor."""
    scopes = [(gettext_noop("全省"), Scope(PROVINCE))] + [
        (city.name, Scope(CITY, city_id=city.pk))
        for city in City.objects.filter(units__isnull=False).distinct().order_by("sort_order", "code")
    ]
    with translation.override(settings.LANGUAGE_CODE):
        for _label, scope in scopes:
            cache_put(
                _overview_key(scope=scope, date_from=date_from, date_to=date_to, today=today),
                operations_overview_now(scope=scope, date_from=date_from, date_to=date_to, today=today),
                keep=OVERVIEW_KEEP_SECONDS,
            )
    return [label for label, _scope in scopes]


def operations_overview_now(*, scope: Scope, date_from: dt.date, date_to: dt.date, today: dt.date) -> dict:
    """The operations sections of the dashboard for `scope` (see the module's docstring).

    `date_from`..`date_to` (local dates, inclusive) select the VIPs rated, the escalations raised and the
    SMS scheduled in the range; the workload is today's and the next 14 days'. Queries: one for the units,
    one for the published playbooks,
    then one per section (two for the forecast when a staff act is anchored on something other than the
    activation) — whatever the number of rows.
    """
    versions = _versions()
    units = _units(scope)
    # `reading` names this reading: the page keeps the HTML of its tables under it (one render per reading,
    # not per look — the province's tables are thousands of cells).
    out: dict = {
        "date_from": date_from, "date_to": date_to, "today": today, "tables": TABLES, "reading": secrets.token_hex(8)
    }
    clocks = vip_clocks(versions[-1][1]) if versions else VipClocks()
    out["vip"] = vip_section(scope=scope, date_from=date_from, date_to=date_to, today=today, clocks=clocks)
    out.update(task_sections(scope=scope, units=units, date_from=date_from, date_to=date_to, today=today))
    out["sms"] = sms_section(scope=scope, date_from=date_from, date_to=date_to)
    out["forecast"] = forecast_section(scope=scope, units=units, versions=versions, today=today)
    out["usage"] = usage_section(scope=scope, date_from=date_from, date_to=date_to)
    for name in TABLES:
        out[name]["cells"] = display_rows(out[name])
    out["summary"] = {name: out[name].get("summary", {}) for name in TABLES}
    out["tiles"] = _tiles(out["summary"])
    out["sections"] = [{"name": name, "table": out[name]} for name in TABLES]
    return out


def _tiles(summary: dict) -> list[dict]:
    """The headline figures above the tables: {label, text, warn}."""
    v, o, w, m = (summary.get(k, {}) for k in ("vip", "overdue", "workload", "sms"))
    return [
        {
            "label": gettext("VIP %(n)d 天内分配率") % {"n": v.get("assigned_days", 3)},
            "text": _text(v.get("assigned_rate"), PCT),
            "warn": v.get("assigned_rate") is not None and v["assigned_rate"] < 0.95,
        },
        {
            "label": gettext("VIP %(n)d 天内回访率") % {"n": v.get("callback_days", 7)},
            "text": _text(v.get("called_rate"), PCT),
            "warn": v.get("called_rate") is not None and v["called_rate"] < 0.95,
        },
        {"label": gettext("滞后评级VIP"), "text": _text(v.get("late_rated", 0), INT), "warn": False},
        {
            "label": gettext("当前超时任务"),
            "text": _text(o.get("overdue", 0), INT),
            "warn": bool(o.get("overdue")),
        },
        {
            "label": gettext("升级未确认"),
            "text": _text(o.get("unacknowledged", 0), INT),
            "warn": bool(o.get("unacknowledged")),
        },
        {"label": gettext("今日在办任务"), "text": _text(w.get("running", 0), INT), "warn": False},
        {
            "label": gettext("短信发送失败"),
            "text": _text(m.get("failed") or 0, INT),
            "warn": bool(m.get("failed")),
        },
    ]


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def _total_row(rows, first_numeric: int, pct_of: tuple[int, int] | None = None):
    """The 合计 row of a unit table (unit, kind, city, then numbers), or None for fewer than two rows: each
    numeric column summed, and with `pct_of` a last column recomputed as that rate of two summed columns."""
    if len(rows) < 2:
        return None
    sums = [sum(r[i] for r in rows) for i in range(first_numeric, len(rows[0]) - (1 if pct_of else 0))]
    out = [gettext("合计"), "", "", *sums]
    if pct_of:
        out.append(_rate(out[pct_of[0]], out[pct_of[1]]))
    return out


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _table(
    *,
    title: str,
    headers: list[str],
    formats: list[str],
    rows: list[list],
    total: list | None = None,
    chart: dict | None = None,
    note: str = "",
) -> dict:
    return {
        "title": title,
        "headers": [capfirst(h) for h in headers],  # a field's name is lowercase in English
        "formats": formats,
        "rows": rows,
        "total": total,
        "chart": chart or {},
        "note": note,
        "percent_columns": [i for i, f in enumerate(formats) if f == PCT],
    }


def display_rows(table: dict) -> list[list[dict]]:
    """The table's rows (and total) as cells {t: text, f: format} for the template: counts with thousands
    separators, fractions as percentages with one decimal, no value as "—"."""
    rows = list(table["rows"]) + ([table["total"]] if table.get("total") else [])
    return [[{"t": _text(v, f), "f": f} for v, f in zip(row, table["formats"], strict=True)] for row in rows]


def _text(value, fmt: str) -> str:
    if value is None:
        return "—"
    if fmt == PCT:
        return f"{value * 100:.1f}%"
    if fmt == INT and isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dt.date):
        return day_month(value)
    return str(value)


def vip_section(
    *, scope: Scope, date_from: dt.date, date_to: dt.date, today: dt.date, clocks: VipClocks
) -> dict:
    """VIP clocks per city, for the VIPs rated in the range (方案: 评定后3天内分配客户经理; 分配后7天内首次回访).

    - assigned in time: the manager assigned at most `assignment_days` after the rating date;
    - 3-day rate = assigned in time / VIPs whose 3 days are over or who were assigned in time (a VIP rated
      yesterday and not yet assigned is still within its clock and counts in neither: 计时中);
    - called in time: the VIP first callback done on time (its act closed `done`, its completion not
      backdated) — the act is due at the end of the 7th day after the assignment;
    - 7-day rate = called in time / assigned VIPs whose 7 days are over or who were called in time;
    - late-rated (滞后评级): rated more than `rating_deadline_day` days after activation, when the ordinary
      first callback had already been owed.

    One grouped statement over the customers rated in the range (the `vip_rated_on` index), each probing
    its journey (unique customer index) and its callback act (the unique (journey, act) key) once.
    """
    def callback(*statuses, on_time: bool = False):
        acts = JourneyAction.objects.filter(
            journey__customer_id=OuterRef("pk"), action_code=clocks.callback_code, status__in=statuses
        )
        return Exists(acts.filter(task__backdated=False) if on_time else acts)

    assign_lag = ExpressionWrapper(F("manager_assigned_on") - F("vip_rated_on"), output_field=DurationField())
    rating_lag = ExpressionWrapper(F("vip_rated_on") - F("activated_on"), output_field=DurationField())
    assigned = Q(manager_assigned_on__isnull=False)
    assigned_in_time = assigned & Q(assign_lag__lte=_days(clocks.assignment_days))
    assign_clock_over = Q(vip_rated_on__lt=today - _days(clocks.assignment_days))
    call_clock_over = Q(manager_assigned_on__lt=today - _days(clocks.callback_days))
    called_in_time = Q(called_ok=True)
    rows_db = (
        Customer.objects.filter(city_filter(scope), vip_rated_on__gte=date_from, vip_rated_on__lte=date_to)
        .annotate(
            assign_lag=assign_lag,
            rating_lag=rating_lag,
            called_ok=callback(ActionStatus.DONE, on_time=True),
            called_any=callback(ActionStatus.DONE, ActionStatus.DONE_LATE),
        )
        .values("city_id", "city__name", "city__name_en")
        .annotate(
            rated=Count("pk"),
            assigned_in_time=Count("pk", filter=assigned_in_time),
            assign_owed=Count("pk", filter=assigned_in_time | assign_clock_over),
            assigned=Count("pk", filter=assigned),
            called_in_time=Count("pk", filter=assigned & called_in_time),
            call_owed=Count("pk", filter=assigned & (called_in_time | call_clock_over)),
            called=Count("pk", filter=assigned & Q(called_any=True)),
            late_rated=Count("pk", filter=Q(rating_lag__gt=_days(clocks.rating_deadline_day))),
        )
        .order_by("city__sort_order", "city__code")
    )
    keys = [
        "rated",
        "assigned_in_time",
        "assign_owed",
        "assigned",
        "called_in_time",
        "call_owed",
        "called",
        "late_rated",
    ]
    per_city = [(pick(r["city__name"], r["city__name_en"]), [r[k] for k in keys]) for r in rows_db]
    totals = [sum(values[i] for _, values in per_city) for i in range(len(keys))]

    def row(label, v):
        rated, a_ok, a_owed, assigned_n, c_ok, c_owed, called_n, late = v
        return [
            label,
            rated,
            a_ok,
            a_owed - a_ok,
            rated - a_owed,
            _rate(a_ok, a_owed),
            assigned_n,
            c_ok,
            c_owed - c_ok,
            assigned_n - c_owed,
            _rate(c_ok, c_owed),
            late,
            _rate(late, rated),
        ]

    rows = [row(name, v) for name, v in per_city]
    a, c = clocks.assignment_days, clocks.callback_days
    assign_rate, call_rate = gettext("%(n)d天分配率") % {"n": a}, gettext("%(n)d天回访率") % {"n": c}
    table = _table(
        title=gettext("VIP服务时限"),
        headers=[
            gettext("地市"),
            gettext("评级VIP"),
            gettext("%(n)d天内分配") % {"n": a},
            gettext("分配超时"),
            gettext("分配计时中"),
            assign_rate,
            gettext("已分配"),
            gettext("%(n)d天内回访") % {"n": c},
            gettext("回访超时"),
            gettext("回访计时中"),
            call_rate,
            gettext("滞后评级"),
            gettext("滞后评级占比"),
        ],
        formats=[TEXT, INT, INT, INT, INT, PCT, INT, INT, INT, INT, PCT, INT, PCT],
        rows=rows,
        total=row(gettext("合计"), totals) if len(rows) > 1 else None,
        chart={
            "kind": "bar",
            "percent": True,
            "categories": [r[0] for r in rows],
            "series": [
                {"name": assign_rate, "data": [r[5] for r in rows]},
                {"name": call_rate, "data": [r[10] for r in rows]},
                {"name": gettext("滞后评级占比"), "data": [r[12] for r in rows]},
            ],
        },
        note=gettext(
            "评级日期在所选范围内的VIP。分配率＝%(a)d天内分配÷（时限已到或已按时分配）；回访率＝%(c)d天内完成首次回访"
            "（非补录）÷（已分配且时限已到或已按时回访）；滞后评级＝入网第%(late)d天之后才评为VIP。"
        )
        % {"a": a, "c": c, "late": clocks.rating_deadline_day},
    )
    table["summary"] = {
        "rated": totals[0],
        "assigned_rate": _rate(totals[1], totals[2]),
        "called_rate": _rate(totals[4], totals[5]),
        "late_rated": totals[7],
        "assigned_days": a,
        "callback_days": c,
    }
    return table


def task_sections(
    *, scope: Scope, units: dict[int, dict], date_from: dt.date, date_to: dt.date, today: dt.date
) -> dict:
    """Two tables from two statements: overdue tasks and escalations per unit, and today's workload per unit.

    - running tasks per owning unit (open + overdue), with those due today, those overdue and of these the
      ones whose escalation nobody has acknowledged yet, and those opened today: one grouped statement over
      the running tasks (the (owner_unit, status) index for a city; the (status, due_at) one for the
      province), each probing its escalation by the unique task key;
    - escalations raised in the range per unit, acknowledged or not: one grouped statement over the
      (unit, at) index.
    """
    start, end = clock.at_local(today), clock.at_local(today + _days(1))
    tasks = {
        r["owner_unit_id"]: r
        for r in Task.objects.filter(city_filter(scope, "owner_unit__city_id"), status__in=RUNNING)
        .values("owner_unit_id")
        .annotate(
            running=Count("pk"),
            due_today=Count("pk", filter=Q(due_at__gte=start, due_at__lt=end)),
            overdue=Count("pk", filter=Q(status=ActionStatus.OVERDUE)),
            unacknowledged=Count(
                "pk",
                filter=Q(
                    status=ActionStatus.OVERDUE,
                    escalation__isnull=False,
                    escalation__acknowledged_at__isnull=True,
                ),
            ),
            opened_today=Count("pk", filter=Q(created_at__gte=start, created_at__lt=end)),
        )
        .order_by()
    }
    escalations = {
        r["unit_id"]: r
        for r in Escalation.objects.filter(
            escalation_filter(scope),
            at__gte=clock.at_local(date_from),
            at__lt=clock.at_local(date_to + _days(1)),
        )
        .values("unit_id")
        .annotate(raised=Count("pk"), acknowledged=Count("pk", filter=Q(acknowledged_at__isnull=False)))
        .order_by()
    }
    order = _unit_sort_key(units)

    def label(pk):
        u = units.get(pk)
        return (u["name"], u["kind_label"], u["city__name"]) if u else (f"#{pk}", "", "")

    overdue_rows = []
    for pk in sorted(set(escalations) | {k for k, v in tasks.items() if v["overdue"]}, key=order):
        t, e = tasks.get(pk, {}), escalations.get(pk, {})
        raised, acked = e.get("raised", 0), e.get("acknowledged", 0)
        overdue_rows.append(
            [
                *label(pk),
                t.get("overdue", 0),
                t.get("unacknowledged", 0),
                raised,
                acked,
                raised - acked,
                _rate(acked, raised),
            ]
        )
    workload_rows = [
        [
            *label(pk),
            tasks[pk]["running"],
            tasks[pk]["due_today"],
            tasks[pk]["overdue"],
            tasks[pk]["opened_today"],
        ]
        for pk in sorted(tasks, key=order)
    ]

    overdue = _table(
        title=gettext("超时任务与升级"),
        headers=[
            gettext("单位"),
            gettext("类型"),
            gettext("地市"),
            gettext("当前超时任务"),
            gettext("其中升级未确认"),
            gettext("期间升级"),
            gettext("已确认"),
            gettext("未确认"),
            gettext("确认率"),
        ],
        formats=[TEXT, TEXT, TEXT, INT, INT, INT, INT, INT, PCT],
        rows=overdue_rows,
        total=_total_row(overdue_rows, 3, pct_of=(6, 5)),
        chart={
            "kind": "bar",
            "stacked": True,
            "categories": [r[0] for r in overdue_rows],
            "series": [
                {"name": gettext("升级未确认"), "data": [r[4] for r in overdue_rows]},
                {"name": gettext("超时（升级已确认）"), "data": [r[3] - r[4] for r in overdue_rows]},
            ],
        },
        note=gettext("当前超时任务按现在的责任单位统计；升级按升级时的责任单位、升级时间在所选范围内统计。"),
    )
    workload = _table(
        title=gettext("今日人工工作量"),
        headers=[
            gettext("单位"),
            gettext("类型"),
            gettext("地市"),
            gettext("在办任务"),
            gettext("今日到期"),
            gettext("已超时"),
            gettext("今日新开"),
        ],
        formats=[TEXT, TEXT, TEXT, INT, INT, INT, INT],
        rows=workload_rows,
        total=_total_row(workload_rows, 3),
        chart={
            "kind": "bar",
            "stacked": True,
            "categories": [r[0] for r in workload_rows],
            "series": [
                {"name": gettext("已超时"), "data": [r[5] for r in workload_rows]},
                {"name": gettext("未超时"), "data": [r[3] - r[5] for r in workload_rows]},
            ],
        },
        note=gettext("在办＝进行中和已超时的任务；今日新开＝今天的日处理新生成的任务。"),
    )
    overdue["summary"] = {
        "overdue": sum(t["overdue"] for t in tasks.values()),
        "unacknowledged": sum(t["unacknowledged"] for t in tasks.values()),
        "raised": sum(e["raised"] for e in escalations.values()),
        "acknowledged": sum(e["acknowledged"] for e in escalations.values()),
    }
    workload["summary"] = {
        "running": sum(t["running"] for t in tasks.values()),
        "due_today": sum(t["due_today"] for t in tasks.values()),
        "opened_today": sum(t["opened_today"] for t in tasks.values()),
    }
    return {"overdue": overdue, "workload": workload}


SMS_COLUMNS = [
    ("queued", gettext_noop("待发送")),
    ("sent", gettext_noop("已发送")),
    ("unconfirmed", gettext_noop("待确认")),
    ("failed", gettext_noop("发送失败")),
    ("missed", gettext_noop("已过期未发")),
    ("opted_out", gettext_noop("已退订未发")),
    ("daily_limit", gettext_noop("超每日上限未发")),
    ("cancelled", gettext_noop("已取消")),
]
# Of the sent ones, those the gateway's delivery report says the handset has (a part of 已发送, not a status).
SMS_DELIVERED = ("delivered", gettext_noop("其中已送达"))


def sms_section(*, scope: Scope, date_from: dt.date, date_to: dt.date) -> dict:
    """SMS per local day of their scheduled time, by status (发送中 counts as 待发送), the ones the sending
    policy held back by its reason (a closed window: 已过期未发; a customer who opted out of marketing; the
    daily cap), and of the sent ones those delivered (the gateway's delivery report).

    One grouped statement over the messages scheduled in the range: a range of the (status, scheduled_at, id)
    index for each status; a supervisor's city is read through each message's customer (a primary-key
    probe per message), so its cost grows with the messages of the range (about six per new customer).
    """
    column = Case(
        When(status=MessageStatus.SENDING, then=Value("queued")),
        When(status=MessageStatus.MISSED, last_error=policy.OPTED_OUT, then=Value("opted_out")),
        When(status=MessageStatus.MISSED, last_error=policy.DAILY_LIMIT, then=Value("daily_limit")),
        default=F("status"),
        output_field=CharField(),
    )
    counts: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in (
        OutboxMessage.objects.filter(
            city_filter(scope, "customer__city_id"),
            status__in=MessageStatus.values,
            scheduled_at__gte=clock.at_local(date_from),
            scheduled_at__lt=clock.at_local(date_to + _days(1)),
        )
        .annotate(day=TruncDate("scheduled_at", tzinfo=clock.OPERATOR_TZ), column=column)
        .values("day", "column")
        .annotate(
            n=Count("pk"),
            delivered=Count("pk", filter=Q(status=MessageStatus.SENT, delivery=Delivery.DELIVERED)),
        )
        .order_by()
    ):
        counts[r["day"]][r["column"]] += r["n"]
        counts[r["day"]][SMS_DELIVERED[0]] += r["delivered"]
    rows = []
    for day in sorted(counts):
        values = [counts[day][code] for code, _ in SMS_COLUMNS]
        rows.append([day, *values, sum(values), counts[day][SMS_DELIVERED[0]]])
    width = len(SMS_COLUMNS) + 2  # the statuses, their total and the delivered
    total = [gettext("合计"), *[sum(r[i] for r in rows) for i in range(1, width + 1)]] if rows else None
    table = _table(
        title=gettext("短信发送情况"),
        headers=[
            gettext("日期"), *[gettext(label) for _, label in SMS_COLUMNS], gettext("合计"), gettext(SMS_DELIVERED[1]),
        ],
        formats=[TEXT, *[INT] * width],
        rows=rows,
        total=total,
        chart={
            "kind": "bar",
            "stacked": True,
            "categories": [f"{r[0]:%m-%d}" for r in rows],
            "series": [
                {"name": gettext(label), "data": [r[i + 1] for r in rows]}
                for i, (_, label) in enumerate(SMS_COLUMNS)
            ],
        },
        note=gettext(
            "按计划发送日期统计；发送中的短信计入待发送；待确认为网关未应答、等待送达报告的短信；"
            "已送达为已发送中收到送达报告的短信。"
        ),
    )
    codes = [c for c, _ in SMS_COLUMNS] + ["total", SMS_DELIVERED[0]]
    table["summary"] = dict(zip(codes, (total or [None, *[0] * width])[1:], strict=True))
    return table


def usage_section(*, scope: Scope, date_from: dt.date, date_to: dt.date) -> dict:
    """套餐适配与增值推荐 per city: the package-fit verdicts the cycle made in the range (fits, does not fit and
    the monthly saving it found for those), and the offers made in the range with their take-up (a 1/是 reply,
    then taken by the follow-up) — the figures `onboard90 report offers` gives for the whole file.

    Two grouped statements: the verdicts made in the range, the offers made in the range, each read with its
    customer's city.
    """
    verdicts = {
        r["customer__city_id"]: r
        for r in PackageFitVerdict.objects.filter(
            city_filter(scope, "customer__city_id"), as_of__gte=date_from, as_of__lte=date_to
        )
        .values("customer__city_id")
        .annotate(
            judged=Count("pk"),
            fits=Count("pk", filter=Q(verdict=FitVerdict.FITS)),
            misfit=Count("pk", filter=Q(verdict=FitVerdict.DOES_NOT_FIT)),
            saving=Sum("saving", filter=Q(verdict=FitVerdict.DOES_NOT_FIT)),
        )
        .order_by()
    }
    offers = {
        r["customer__city_id"]: r
        for r in OfferChoice.objects.filter(
            city_filter(scope, "customer__city_id"),
            made_at__gte=clock.at_local(date_from),
            made_at__lt=clock.at_local(date_to + _days(1)),
        )
        .values("customer__city_id")
        .annotate(
            made=Count("pk"),
            accepted=Count("pk", filter=Q(accepted_at__isnull=False)),
            taken=Count("pk", filter=Q(taken_at__isnull=False)),
        )
        .order_by()
    }
    names = {
        c.pk: pick(c.name, c.name_en)
        for c in City.objects.filter(pk__in={*verdicts, *offers}).order_by("sort_order", "code")
    }
    zero: dict = {}
    sums = [0] * 7  # judged, fits, misfit, saving (fen), made, accepted, taken

    def row(label, v):
        judged, fits, misfit, saving, made, accepted, taken = v
        return [
            label, judged, fits, misfit, _rate(misfit, judged), _yuan_per_month(saving, misfit),
            made, accepted, taken, _rate(taken, made),
        ]

    rows = []
    for city_id, name in names.items():
        f, o = verdicts.get(city_id, zero), offers.get(city_id, zero)
        values = [f.get("judged", 0), f.get("fits", 0), f.get("misfit", 0), f.get("saving") or 0,
                  o.get("made", 0), o.get("accepted", 0), o.get("taken", 0)]  # fmt: skip
        sums = [a + b for a, b in zip(sums, values, strict=True)]
        rows.append(row(name, values))
    table = _table(
        title=gettext("套餐适配与增值推荐"),
        headers=[
            gettext("地市"), gettext("适配判定客户"), gettext("套餐合适"), gettext("套餐不合适"), gettext("不合适占比"),
            gettext("不合适者平均每月可省(元)"), gettext("推荐增值业务"), gettext("回复有意向"), gettext("已办理"),
            gettext("办理率"),
        ],  # fmt: skip
        formats=[TEXT, INT, INT, INT, PCT, YUAN, INT, INT, INT, PCT],
        rows=rows,
        total=row(gettext("合计"), sums) if len(rows) > 1 else None,
        chart={
            "kind": "bar",
            "percent": True,
            "categories": [r[0] for r in rows],
            "series": [
                {"name": gettext("不合适占比"), "data": [r[4] for r in rows]},
                {"name": gettext("办理率"), "data": [r[9] for r in rows]},
            ],
        },
        note=gettext(
            "适配判定：所选范围内日处理按客户最近两个完整账期的用量作出的套餐适配结论（合适的客户收到确认短信，不合适的由"
            "客服中心回访推荐）。增值推荐：所选范围内发出推荐短信的客户；回复有意向为回复1或“是”，已办理为跟进后办理。"
        ),
    )
    table["summary"] = {"judged": sums[0], "misfit": sums[2], "made": sums[4], "taken": sums[6]}
    return table


def _yuan_per_month(total_fen: int, customers: int) -> str | None:
    """The average monthly saving in yuan with two decimals (exact: integer fen, rounded half up), or None."""
    if not customers:
        return None
    return str(to_yuan((total_fen * 2 + customers) // (customers * 2)))


def forecast_section(*, scope: Scope, units: dict[int, dict], versions, today: dt.date) -> dict:
    """预计工作量: the staff tasks the journeys already open will open on each of the next 14 days, per unit.

    Set-based: the active journeys are counted once per (playbook version, anchor date, city, store) — one
    grouped statement per anchor the staff acts use (the activation date, through the customers'
    (city, activated_on) / activated_on index, limited to the anchor dates that can land in the 14 days).
    Each staff act's window start is then projected in Python onto the groups: a journey activated on D
    gives the act on D + start, owned as the engine owns it (`journeys.engine.owner_unit_expression`):
    store acts by the customer's store, club / call-centre / account-manager acts by that unit of the city.

    Audiences: each group also counts the customers in each act's audience (the act's and its task's, as
    the customers stand today: VIP, post-paid, number changed…), one conditional count per distinct
    audience, so a VIP-only call is forecast for the VIPs only. Not foreseen: customers who will activate
    or be rated in the coming days (their acts open on anchors not known yet), acts that a later rating
    will supersede, and the retries of unanswered calls; acts anchored on a rating or an assignment open
    on their anchor day (window start 0), which is never in the future, so they add nothing here.
    """
    from onboard90.customers.models import Customer  # noqa: F401  (the audiences are over customers)

    days = [today + _days(i) for i in range(1, FORECAST_DAYS + 1)]
    # (version id, act, audience key, anchor column) for every staff act that can open in the 14 days.
    acts = []
    audiences: dict[str, Q] = {}
    for version, playbook in versions:
        for action in playbook.actions:
            column = ANCHOR_COLUMNS.get(action.window.anchor)
            if action.task is None or column is None:
                continue
            if action.window.anchor != "activation" and action.window.start < 1:
                continue  # opens on its anchor day, which is today at the latest
            key = f"({action.audience}) and ({action.task.audience})"
            if key not in audiences:
                audiences[key] = audience_sql.to_q(action.audience, prefix="customer__") & audience_sql.to_q(
                    action.task.audience, prefix="customer__"
                )
            acts.append((version.pk, action, key, column))
    names = {key: f"a{i}" for i, key in enumerate(audiences)}
    per_unit: dict[int, list[int]] = defaultdict(lambda: [0] * FORECAST_DAYS)
    city_units = defaultdict(
        dict
    )  # city id -> {kind: the unit the engine picks (main first, then lowest id)}
    for pk, u in units.items():
        city_units[u["city_id"]].setdefault(u["kind"], pk)
    for column in sorted({c for *_, c in acts}):
        starts = {a.window.start for v, a, k, c in acts if c == column}
        # Anchor dates that put some act's start within the 14 days, and not after today (no journey yet).
        ranges = [(days[0] - _days(s), min(today, days[-1] - _days(s))) for s in starts]
        ranges = [(lo, hi) for lo, hi in ranges if lo <= hi]
        if not ranges:
            continue
        window = Q()
        for lo, hi in ranges:
            window |= Q(**{f"customer__{column}__range": (lo, hi)})
        groups = (
            Journey.objects.filter(
                city_filter(scope, "customer__city_id"), window, status=JourneyStatus.ACTIVE
            )
            .values(
                "playbook_version_id",
                anchor=F(f"customer__{column}"),
                city=F("customer__city_id"),
                store=F("customer__store_id"),
            )
            .annotate(
                **{names[k]: Count("pk", filter=q) for k, q in audiences.items() if q != Q()},
                everyone=Count("pk"),
            )
            .order_by()
        )
        for g in groups:
            for version_id, action, key, c in acts:
                if c != column or version_id != g["playbook_version_id"]:
                    continue
                index = (g["anchor"] + _days(action.window.start) - days[0]).days
                if not 0 <= index < FORECAST_DAYS:
                    continue
                wl = action.window.latest_day
                if wl is not None and column == "activated_on" and action.window.start > wl:
                    continue
                n = g["everyone"] if audiences[key] == Q() else g[names[key]]
                if not n:
                    continue
                channel = action.task.channel
                owner = (
                    g["store"]
                    if channel == "store"
                    else (city_units[g["city"]].get(CHANNEL_UNIT_KIND[channel]) or g["store"])
                )
                per_unit[owner][index] += n
    order = _unit_sort_key(units)
    rows = []
    for pk in sorted(per_unit, key=order):
        u = units.get(pk, {"name": f"#{pk}", "kind_label": "", "city__name": "", "kind": ""})
        rows.append([u["name"], u["kind_label"], u["city__name"], *per_unit[pk], sum(per_unit[pk])])
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0] * FORECAST_DAYS)
    for pk, counts in per_unit.items():
        kind = units.get(pk, {}).get("kind", "")
        by_kind[kind] = [a + b for a, b in zip(by_kind[kind], counts, strict=True)]
    kinds = dict(UnitKind.choices)
    total = _total_row(rows, 3)
    table = _table(
        title=gettext("未来14天预计新开任务"),
        headers=[
            gettext("单位"),
            gettext("类型"),
            gettext("地市"),
            *[f"{d:%m-%d}" for d in days],
            gettext("合计"),
        ],
        formats=[TEXT, TEXT, TEXT, *[INT] * (FORECAST_DAYS + 1)],
        rows=rows,
        total=total,
        chart={
            "kind": "bar",
            "stacked": True,
            "categories": [f"{d:%m-%d}" for d in days],
            "series": [
                {"name": str(kinds.get(k, k)), "data": by_kind[k]} for k in KIND_ORDER if k in by_kind
            ],
        },
        note=gettext(
            "按已在旅程中的客户推算：各人工动作在其时间窗开始之日生成任务，按派单规则归属单位；"
            "未计入今后新入网、新评级的客户和未接通后的重拨。"
        ),
    )
    table["days"] = days
    return table


# --- the escalation list (升级处理) ----------------------------------------------------------------------------

STATES = {
    "pending": gettext_noop("待处理（未确认且任务未完成）"),
    "unacknowledged": gettext_noop("全部未确认"),
    "acknowledged": gettext_noop("已确认"),
    "all": gettext_noop("全部"),
}
REASONS = {"overdue": gettext_noop("任务超时"), "no_account_manager": gettext_noop("无可分配客户经理")}
PER_PAGE = 25
EXPORT_LIMIT = 20000


@dataclass(frozen=True)
class EscalationFilters:
    unit_id: int | None = None
    state: str = "pending"

    @classmethod
    def parse(cls, data) -> tuple[EscalationFilters, list[str]]:
        """From a query dict; bad values fall back to the default with a message, never an error page."""
        errors = []
        state = data.get("state") or "pending"
        if state not in STATES:
            errors.append(gettext("未知的处理状态“%(state)s”，已显示待处理的升级") % {"state": state[:20]})
            state = "pending"
        unit_id = None
        raw = (data.get("unit") or "").strip()
        if raw:
            if raw.isdigit():
                unit_id = int(raw)
            else:
                errors.append(gettext("单位参数无效，已显示全部单位"))
        return cls(unit_id=unit_id, state=state), errors


def _escalations(scope: Scope, filters: EscalationFilters):
    qs = Escalation.objects.filter(escalation_filter(scope))
    if filters.unit_id is not None:
        qs = qs.filter(unit_id=filters.unit_id)
    if filters.state == "pending":
        qs = qs.filter(acknowledged_at__isnull=True, task__status__in=RUNNING)
    elif filters.state == "unacknowledged":
        qs = qs.filter(acknowledged_at__isnull=True)
    elif filters.state == "acknowledged":
        qs = qs.filter(acknowledged_at__isnull=False)
    return qs


ROW_FIELDS = (
    "pk",
    "at",
    "reason",
    "unit_id",
    "unit__name",
    "unit__city_id",
    "acknowledged_at",
    "note",
    "acknowledged_by__username",
    "acknowledged_by__staff__display_name",
    "task_id",
    "task__status",
    "task__kind",
    "task__due_at",
    "task__attempts",
    "task__max_attempts",
    "task__assignee_id",
    "task__assignee__username",
    "task__assignee__staff__display_name",
    "task__owner_unit__name",
    "task__action__action_code",
    "task__journey__customer__msisdn",
    "task__journey__customer__vip_tier_id",
)


def _row(r: dict, *, names: dict[str, str], now: dt.datetime) -> dict:
    msisdn = r["task__journey__customer__msisdn"] or ""
    due = r["task__due_at"]
    running = r["task__status"] in RUNNING
    late_by = (now - due) if (due and running and now > due) else None
    code = r["task__action__action_code"] or ""
    act = (
        str(TaskKind.MANUAL_ASSIGNMENT.label)
        if r["task__kind"] == TaskKind.MANUAL_ASSIGNMENT
        else names.get(code, code)
    )
    return {
        "id": r["pk"],
        "at": r["at"],
        "reason": gettext(REASONS[r["reason"]]) if r["reason"] in REASONS else r["reason"],
        "unit_id": r["unit_id"],
        "unit": r["unit__name"],
        "city_id": r["unit__city_id"],
        "task_id": r["task_id"],
        "task_status": r["task__status"],
        "task_status_label": str(ActionStatus(r["task__status"]).label)
        if r["task__status"] in ActionStatus.values
        else r["task__status"],
        "running": running,
        "due_at": due,
        "late_by": late_by,
        "late_text": duration_text(late_by) if late_by else "",
        "attempts": r["task__attempts"],
        "max_attempts": r["task__max_attempts"],
        "owner_unit": r["task__owner_unit__name"],
        "assignee": r["task__assignee__staff__display_name"] or r["task__assignee__username"] or "",
        "act": act,
        "msisdn": msisdn,  # for the link to the customer page only; shown masked
        "masked_msisdn": mask_msisdn(msisdn),
        "vip": r["task__journey__customer__vip_tier_id"] is not None,
        "acknowledged_at": r["acknowledged_at"],
        "acknowledged_by": r["acknowledged_by__staff__display_name"] or r["acknowledged_by__username"] or "",
        "note": r["note"],
    }


def duration_text(delta: dt.timedelta) -> str:
    """超时多久, for people: 3天5小时 / 5小时 / 20分钟 (3 days 5 hours / 5 hours / 20 minutes)."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(ngettext("%(n)d天", "%(n)d天", days) % {"n": days})
    if hours:
        parts.append(ngettext("%(n)d小时", "%(n)d小时", hours) % {"n": hours})
    if not parts:
        parts.append(ngettext("%(n)d分钟", "%(n)d分钟", max(mins, 1)) % {"n": max(mins, 1)})
    return (" " if is_english() else "").join(parts)


def escalation_page(
    *, scope: Scope, filters: EscalationFilters, page: int = 1, now: dt.datetime | None = None
) -> dict:
    """One page of the scope's escalations, oldest first, with what the page's filters and forms need.

    Queries: the count, the page's rows (escalation joined to its task, act, unit, assignee and customer:
    one statement, read in (unit, at) index order for a city), the published playbooks (act names), the
    scope's units and staff (the reassignment form's choices) — five, whatever the page size.
    """
    now = now or clock.now()
    paginator = Paginator(_escalations(scope, filters).order_by("at", "pk").values(*ROW_FIELDS), PER_PAGE)
    page_obj = paginator.get_page(page)
    names = act_names(_versions())
    rows = [_row(r, names=names, now=now) for r in page_obj.object_list]
    units = _units(scope)
    return {
        "rows": rows,
        "page": page_obj,
        "count": paginator.count,
        "filters": filters,
        "states": STATES,
        "units": list(units.values()),
        "choices": reassign_choices(scope, units),
    }


def escalation_one(*, scope: Scope, escalation_id: int, now: dt.datetime | None = None) -> dict | None:
    """One escalation's row if it is in the scope (None otherwise: the caller answers 404)."""
    r = Escalation.objects.filter(escalation_filter(scope), pk=escalation_id).values(*ROW_FIELDS).first()
    if r is None:
        return None
    units = _units(scope)
    return {
        "row": _row(r, names=act_names(_versions()), now=now or clock.now()),
        "choices": reassign_choices(scope, units),
    }


def escalation_export_rows(
    *, scope: Scope, filters: EscalationFilters, now: dt.datetime | None = None
) -> tuple[list, list]:
    """The list's rows for Excel (headers, rows), in the page's order, numbers masked; at most EXPORT_LIMIT."""
    now = now or clock.now()
    names = act_names(_versions())
    qs = _escalations(scope, filters).order_by("at", "pk").values(*ROW_FIELDS)[:EXPORT_LIMIT]
    headers = [
        gettext("升级时间"),
        gettext("原因"),
        gettext("动作"),
        gettext("客户号码"),
        "VIP",
        gettext("责任单位"),
        gettext("负责人"),
        gettext("截止时间"),
        gettext("超时"),
        gettext("任务状态"),
        gettext("确认时间"),
        gettext("确认人"),
        gettext("处理说明"),
    ]
    headers = [capfirst(h) for h in headers]
    rows = []
    for r in qs:
        row = _row(r, names=names, now=now)
        rows.append(
            [
                row["at"],
                row["reason"],
                row["act"],
                row["masked_msisdn"],
                gettext("是") if row["vip"] else "",
                row["owner_unit"],
                row["assignee"],
                row["due_at"],
                row["late_text"],
                row["task_status_label"],
                row["acknowledged_at"],
                row["acknowledged_by"],
                row["note"],
            ]
        )
    return headers, rows


WORKER_ROLES = (Role.STORE_CLERK, Role.CLUB_STAFF, Role.CALL_CENTRE_AGENT, Role.ACCOUNT_MANAGER)


def reassign_choices(scope: Scope, units: dict[int, dict]) -> dict[int, dict]:
    """{city id: {units: [...], staff: [...]}}: where a supervisor may send a task of that city (its units,
    its active front-line staff grouped by unit). One query for the staff."""
    by_city: dict[int, dict] = defaultdict(lambda: {"units": [], "staff": []})
    for u in units.values():
        by_city[u["city_id"]]["units"].append(u)
    staff = (
        StaffProfile.objects.filter(
            city_filter(scope), active=True, user__is_active=True, role__in=WORKER_ROLES
        )
        .order_by("unit_id", "display_name", "user__username")
        .values("user_id", "user__username", "display_name", "unit_id", "city_id", "role")
    )
    roles = dict(Role.choices)
    for s in staff:
        unit = units.get(s["unit_id"])
        by_city[s["city_id"]]["staff"].append(
            {
                "id": s["user_id"],
                "name": s["display_name"] or s["user__username"],
                "unit": unit["name"] if unit else "",
                "role": str(roles.get(s["role"], s["role"])),
            }
        )
    return dict(by_city)
