"""升级处理 (the supervisor's escalations) and the Excel exports of the dashboard's operations tables.

Supervisors see their city's escalations, the province administrator every city's; anyone else, and any
escalation outside the scope, gets a 404.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from onboard90.core import clock
from onboard90.journeys.models import Escalation
from onboard90.journeys.services import EscalationRefused, escalation_acknowledge
from onboard90.org.scoping import scope_of
from onboard90.reporting import operations
from onboard90.web.exports import xlsx_response
from onboard90.web.views.customers import said


def _supervising(request):
    scope = scope_of(request.user)
    if not scope.is_supervising:
        raise Http404
    return scope


def _decorate(row: dict, choices: dict) -> dict:
    row["reassign_url"] = reverse("task-reassign", args=[row["task_id"]])
    row["choices"] = choices.get(row["city_id"], {"units": [], "staff": []})
    return row


@login_required
@require_GET
def escalations(request):
    scope = _supervising(request)
    filters, errors = operations.EscalationFilters.parse(request.GET)
    for error in errors:
        messages.warning(request, error)
    data = operations.escalation_page(scope=scope, filters=filters, page=request.GET.get("page") or 1)
    for row in data["rows"]:
        _decorate(row, data["choices"])
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "web/escalations.html", {**data, "query": query.urlencode(), "here": request.get_full_path()}
    )


@login_required
@require_POST
def escalation_acknowledge_view(request, escalation_id: int):
    scope = _supervising(request)
    escalation = Escalation.objects.filter(pk=escalation_id).only("pk").first()
    found = operations.escalation_one(scope=scope, escalation_id=escalation_id)
    if escalation is None or found is None:
        raise Http404
    error = ""
    try:
        escalation_acknowledge(
            escalation=escalation, acknowledged_by=request.user, note=request.POST.get("note", "")
        )
    except EscalationRefused as refused:
        error = said(refused)  # "中文 / English": the page's language
    if request.htmx:
        found = operations.escalation_one(scope=scope, escalation_id=escalation_id)
        return render(
            request,
            "web/partials/escalation_row.html",
            {
                "row": _decorate(found["row"], found["choices"]),
                "error": error,
                "done": not error,
                "here": request.POST.get("next") or reverse("escalations"),
            },
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("已确认升级"))
    return redirect(_safe_next(request))


def _safe_next(request) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("escalations")


@login_required
@require_GET
def escalations_export(request):
    scope = _supervising(request)
    filters, _errors = operations.EscalationFilters.parse(request.GET)
    headers, rows = operations.escalation_export_rows(scope=scope, filters=filters)
    return xlsx_response(
        filename=f"escalations-{clock.today():%Y%m%d}.xlsx", title=_("升级处理"), headers=headers, rows=rows
    )


def date_range(data, *, today: dt.date) -> tuple[dt.date, dt.date, str]:
    """`from`/`to` (YYYY-MM-DD, inclusive) of a query; default the 30 days up to today. A bad value gives
    the default and a message."""
    default = (today - dt.timedelta(days=29), today)
    raw_from, raw_to = (data.get("from") or "").strip(), (data.get("to") or "").strip()
    try:
        date_from = dt.date.fromisoformat(raw_from) if raw_from else default[0]
        date_to = dt.date.fromisoformat(raw_to) if raw_to else default[1]
    except ValueError:
        return (*default, _("日期格式应为 年-月-日（如 2012-03-05），已使用最近30天"))
    if date_from > date_to:
        return (*default, _("开始日期晚于结束日期，已使用最近30天"))
    if (date_to - date_from).days > 366:
        return (date_to - dt.timedelta(days=366), date_to, _("日期范围最长一年，已截取最后一年"))
    return date_from, date_to, ""


@login_required
@require_GET
def ops_export(request, name: str):
    scope = _supervising(request)
    if name not in operations.TABLES:
        raise Http404
    today = clock.today()
    date_from, date_to, error = date_range(request.GET, today=today)
    if error:
        messages.warning(request, error)
        return redirect(reverse("dashboard"))
    overview = operations.operations_overview(
        scope=scope, date_from=date_from, date_to=date_to, today=today, only=name
    )
    table = overview[name]
    rows = list(table["rows"]) + ([table["total"]] if table.get("total") else [])
    return xlsx_response(
        filename=f"ops-{name}-{date_from:%Y%m%d}-{date_to:%Y%m%d}.xlsx",
        title=_("%(title)s %(start)s至%(end)s") % {"title": table["title"], "start": date_from, "end": date_to},
        headers=table["headers"],
        rows=rows,
        percent_columns=table["percent_columns"],
    )
