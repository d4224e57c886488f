"""工作台: the signed-in user's open work in three lists (due today, overdue, coming up), filtered, searched
by number and paged by key; each row opens the customer page.

Filters arrive as query parameters and are checked here: a value that is not one of the choices is
dropped with a message, never passed on (and never a 500). The lists are the user's scope
(`journeys.scoping.task_filter`), so a number outside it finds nothing, exactly like an unknown number.
"""

from __future__ import annotations

import datetime as dt
import math

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from onboard90.core import clock
from onboard90.core.language import day_month, pick
from onboard90.journeys import selectors
from onboard90.journeys.enums import ActionStatus
from onboard90.org.models import Unit
from onboard90.org.scoping import city_filter, scope_of

LIST_LABELS = {
    "today": gettext_lazy("今日到期"),
    "overdue": gettext_lazy("已超时"),
    "upcoming": gettext_lazy("即将到期"),
}
SEGMENT_LABELS = {
    "vip": gettext_lazy("VIP客户"),
    "number_changed": gettext_lazy("换号入网"),
    "prepaid": gettext_lazy("预付费"),
    "postpaid": gettext_lazy("后付费"),
}
STATUS_CHOICES = (ActionStatus.OPEN, ActionStatus.OVERDUE)
# The tasks of other units the user may take (领取) are listed soonest due first, this many at most: a
# walk-in customer is found by number, which filters this list as it does the user's own.
TAKEABLE_SHOWN = 20


# --- plain formatting rules (no database) ---------------------------------------------------------------


def local_time(instant: dt.datetime | None, *, year: bool = False) -> str:
    """`12月05日 14:30` (`05 Dec 14:30` in English), or `2012-03-05 14:30` in both, always in Asia/Shanghai."""
    if instant is None:
        return ""
    local = instant.astimezone(clock.OPERATOR_TZ)
    if year:
        return local.strftime("%Y-%m-%d %H:%M")
    return f"{day_month(local)} {local:%H:%M}"


def lateness(due_at: dt.datetime, now: dt.datetime) -> tuple[str, bool]:
    """("超时 2 天", True) past the due time, ("还剩 5 小时", False) before it: whole days from a day on,
    hours below (at least 1), so a glance at a row tells how urgent it is."""
    seconds = (due_at - now).total_seconds()
    late = seconds < 0
    hours = abs(seconds) / 3600
    if hours >= 24:
        n = math.floor(hours / 24)
        text = _("超时 %(n)d 天") if late else _("还剩 %(n)d 天")
    else:
        n = max(1, math.floor(hours)) if late else max(1, math.ceil(hours))
        text = _("超时 %(n)d 小时") if late else _("还剩 %(n)d 小时")
    return text % {"n": n}, late


def count_text(n: int) -> str:
    """A list's count as its tab shows it: exact, or `10000+` past what is counted (`selectors.workbench_counts`)."""
    return f"{selectors.WORKBENCH_COUNTED}+" if n > selectors.WORKBENCH_COUNTED else str(n)


def parse_number(text: str) -> str | None:
    """The number search: 11 digits or the last 4; None for anything else."""
    digits = "".join(text.split())
    if digits.isdigit() and len(digits) in (4, 11):
        return digits
    return None


def parse_cursor(text: str) -> tuple[dt.datetime, int] | None:
    """`<due time in microseconds>.<task id>`: the key of the last row of the previous page."""
    try:
        micros, pk = text.split(".")
        due = dt.datetime.fromtimestamp(int(micros) / 1_000_000, tz=dt.UTC)
        return due, int(pk)
    except (ValueError, OverflowError, OSError):
        return None


def cursor_of(key: tuple[dt.datetime, int]) -> str:
    due, pk = key
    return f"{round(due.timestamp() * 1_000_000)}.{pk}"


# --- the page -----------------------------------------------------------------------------------------


def _filters(request, *, labels: dict, units: list, problems: list[str]) -> dict:
    """The query's filters, each checked against its choices; a bad one is dropped and said."""
    get = request.GET
    out: dict = {}
    action = get.get("action", "").strip()
    if action:
        if action in labels["acts"] and labels["acts"][action]["has_task"]:
            out["action"] = action
        else:
            problems.append(_("没有这个服务动作，已忽略该筛选。"))
    stage = get.get("stage", "").strip()
    if stage:
        if stage.isdigit() and int(stage) in labels["stages"]:
            out["stage"] = int(stage)
        else:
            problems.append(_("没有这个阶段，已忽略该筛选。"))
    status = get.get("status", "").strip()
    if status:
        if status in STATUS_CHOICES:
            out["status"] = status
        else:
            problems.append(_("状态只能选“进行中”或“已超时”，已忽略该筛选。"))
    segment = get.get("segment", "").strip()
    if segment:
        if segment in SEGMENT_LABELS:
            out["segment"] = segment
        else:
            problems.append(_("没有这个客户类别，已忽略该筛选。"))
    unit = get.get("unit", "").strip()
    if unit:
        if unit.isdigit() and int(unit) in {u.pk for u in units}:
            out["unit"] = int(unit)
        else:
            problems.append(_("没有这个单位（或不在您的管辖范围内），已忽略该筛选。"))
    q = get.get("q", "").strip()
    if q:
        number = parse_number(q)
        if number:
            out["number"] = number
        else:
            problems.append(_("请输入完整的11位号码或号码后4位。"))
    return out


@require_GET
@login_required
def workbench(request):
    scope = scope_of(request.user)
    now = clock.now()
    # The status labels once a page: `get_status_display` per row hashes every choice's lazy label each time.
    labels = {**selectors.playbook_labels(), "status": {value: str(label) for value, label in ActionStatus.choices}}
    units = []
    if scope.is_supervising:

        units = list(Unit.objects.filter(city_filter(scope)).select_related("city").order_by("city__sort_order", "kind", "name"))
        for u in units:
            u.city_label = pick(u.city.name, u.city.name_en)
    problems: list[str] = []
    filters = _filters(request, labels=labels, units=units, problems=problems)
    which = request.GET.get("list")
    after = parse_cursor(request.GET.get("after", "")) if request.GET.get("after") else None
    try:
        shown = max(0, int(request.GET.get("n", "0")))
    except ValueError:
        shown = 0
    if after is None:
        shown = 0
    data = selectors.workbench(
        scope=scope, filters=filters, as_of=now, which=which, after=after, limit=selectors.WORKBENCH_PAGE
    )
    which = data["which"]

    query = {k: v for k, v in {
        "action": filters.get("action", ""), "stage": filters.get("stage", ""), "status": filters.get("status", ""),
        "segment": filters.get("segment", ""), "unit": filters.get("unit", ""), "q": filters.get("number", ""),
    }.items() if v != ""}
    base = reverse("workbench")
    tabs = [
        {"key": key, "label": str(LIST_LABELS[key]), "count": data["counts"][key],
         "count_text": count_text(data["counts"][key]), "current": key == which,
         "url": f"{base}?{urlencode({**query, 'list': key})}", "warn": key == "overdue"}
        for key in ("overdue", "today", "upcoming")
    ]
    open_url = _open_url()
    rows = [_row(task, labels=labels, now=now, open_url=open_url) for task in data["rows"]]
    # Other units' work this user's unit may take (the club: the stores' coaching), with the same filters.
    reach = selectors.takeable_reach(scope)
    takeable = []
    if reach is not None:
        takeable = [
            _row(task, labels=labels, now=now, open_url=open_url)
            for task in selectors.with_row_relations(
                selectors.takeable_tasks(scope, filters=filters, reach=reach)[: TAKEABLE_SHOWN + 1]
            )
        ]
    next_url = None
    if data["next"]:
        next_url = f"{base}?{urlencode({**query, 'list': which, 'after': cursor_of(data['next']), 'n': shown + len(rows)})}"
    context = {
        "now": local_time(now, year=True),
        "which": which,
        "which_label": str(LIST_LABELS[which]),
        "tabs": tabs,
        "rows": rows,
        "first": shown + 1 if rows else 0,
        "last": shown + len(rows),
        "total": data["counts"][which],
        "total_text": count_text(data["counts"][which]),
        "next_url": next_url,
        "first_url": f"{base}?{urlencode({**query, 'list': which})}" if after is not None else None,
        "problems": problems,
        "filters": filters,
        "q": request.GET.get("q", "").strip()[:20],
        "act_choices": sorted(
            ((code, a["name"], a["stage"]) for code, a in labels["acts"].items() if a["has_task"]),
            key=lambda c: (c[2], c[1]),
        ),
        "stage_choices": sorted(labels["stages"].items()),
        "status_choices": [(s.value, s.label) for s in STATUS_CHOICES],
        "segment_choices": [(k, str(v)) for k, v in SEGMENT_LABELS.items()],
        "units": units,
        "show_units": scope.is_supervising,
        "no_scope": scope.kind == "nothing",
        "any_filter": bool(query),
        "takes": reach is not None,
        "takeable": takeable[:TAKEABLE_SHOWN],
        "takeable_more": len(takeable) > TAKEABLE_SHOWN,
        "here": request.get_full_path(),
    }
    partial = request.htmx and not request.htmx.history_restore_request
    template = "web/partials/workbench_results.html" if partial else "web/workbench.html"
    response = render(request, template, context)
    # The same address answers a whole page or, to htmx, the results only: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def _row(task, *, labels: dict, now: dt.datetime, open_url: str) -> dict:
    """One task as a list shows it (the task's customer, act, stage and owner are loaded with it): every text
    worked out here, so that the template of a 50-row page only places them."""
    act = labels["acts"].get(task.action.action_code)
    late_text, late = lateness(task.due_at, now)
    assignee = task.assignee
    customer = task.journey.customer
    return {
        "task": task,
        "url": open_url.replace(f"/{_ANY_TASK}/", f"/{task.pk}/"),
        "msisdn": customer.masked_msisdn,
        "name": customer.masked_name,
        "vip": customer.vip_tier.name if customer.vip_tier else "",
        "number_changed": customer.number_changed,
        "act": act["name"] if act else task.action.action_code,
        "manual": task.kind == "manual_assignment",
        "stage": labels["stages"].get(task.action.stage, task.action.stage),
        "due": local_time(task.due_at),
        "late_text": late_text,
        "late": late,
        "status": labels["status"][task.status],
        "unit": task.owner_unit.name,
        "assignee": (getattr(assignee, "staff", None) and assignee.staff.display_name) or
                    (assignee.get_username() if assignee else ""),
    }


_ANY_TASK = 987654321


def _open_url() -> str:
    """The address a row opens (`task_open`), with _ANY_TASK standing for the task's id: reversed once a page."""
    return reverse("task-open", args=[_ANY_TASK])


@require_GET
@login_required
def task_open(request, task_id: int):
    """A row of a list opens its customer's page through the task, so that the list's HTML never carries a
    full number; the task is looked up in the user's scope (404 outside it)."""
    task = selectors.task_in_scope(scope=scope_of(request.user), task_id=task_id)
    if task is None:
        raise Http404
    return redirect(reverse("customer", args=[task.journey.customer.msisdn]) + f"#task-{task.pk}")
