"""管理看板: compliance per act and stage, drilled down province → city → store/unit → staff member, with the
operations sections (VIP clocks, overdue, SMS, workload) beside it; every table exports to Excel.

Thin: parse the filters, call the reporting selectors, render. Out of scope (a clerk, another city, an
unknown code) answers 404.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from onboard90.core import clock
from onboard90.journeys.selectors import FIGURES, FIGURES_ZH
from onboard90.org.scoping import scope_of
from onboard90.reporting import selectors
from onboard90.web.exports import xlsx_response

try:  # the operations sections live in their own module
    from onboard90.reporting.operations import operations_overview
except ImportError:  # pragma: no cover - only while that module is not there
    operations_overview = None

ROW_HEADERS = {"city": "地市", "store": "营业厅", "staff": "员工"}
TABLES = ("acts", "stages", "rows")
# Below this on-time rate a figure is shown in red (the charts: green from 90 %, amber from 75 %).
LOW_RATE = 0.75


def _compliance(request):
    """(scope, target, the range, its messages, the overview) for the request's filters, or 404."""
    scope = scope_of(request.user)
    try:
        target = selectors.dashboard_target(
            scope=scope, city=request.GET.get("city") or None, unit=request.GET.get("unit") or None
        )
    except selectors.OutOfScope:
        raise Http404 from None
    today = clock.today()
    due_from, due_to, errors = selectors.date_range(
        today=today, due_from=request.GET.get("from"), due_to=request.GET.get("to")
    )
    overview = selectors.compliance_overview(target=target, due_from=due_from, due_to=due_to, as_of=clock.now())
    return scope, target, (due_from, due_to, today), errors, overview


@login_required
@require_GET
def dashboard(request):
    scope, target, (due_from, due_to, today), errors, overview = _compliance(request)
    ops = None
    if operations_overview is not None:
        ops = operations_overview(scope=scope, date_from=due_from, date_to=due_to, today=today)
    for row in [*overview["acts"], *overview["stages"], *overview["rows"], overview["total"]]:
        row["rate_pct"] = _pct(row["on_time_rate"])
        row["rate_low"] = row["on_time_rate"] is not None and row["on_time_rate"] < LOW_RATE
    charts = {
        "acts": {"labels": [a["name"] for a in overview["acts"]], "rates": [a["rate_pct"] for a in overview["acts"]]},
        "stages": {"labels": [s["name"] for s in overview["stages"]], "rates": [s["rate_pct"] for s in overview["stages"]]},
    }
    query = request.GET.copy()
    for name in ("from", "to"):
        query[name] = {"from": due_from, "to": due_to}[name].isoformat()
    return render(
        request,
        "web/dashboard.html",
        {
            "target": target,
            "overview": overview,
            "due_from": due_from,
            "due_to": due_to,
            "errors": errors,
            "charts": charts,
            "ops": ops,
            "query": query.urlencode(),
            "row_header": ROW_HEADERS[overview["rows_kind"]],
            "figure_headers": FIGURES_ZH[:-1],
        },
    )


def _pct(rate):
    return None if rate is None else round(rate * 100, 1)


@login_required
@require_GET
def dashboard_export(request, table: str):
    """One of the page's tables as Excel: the same selector and filters, so the same numbers."""
    if table not in TABLES:
        raise Http404
    _scope, target, (due_from, due_to, _today), _errors, overview = _compliance(request)
    place = target.unit.name if target.unit else target.city.name if target.city else "全省"
    if table == "acts":
        headers = ["阶段", "服务动作", *FIGURES_ZH]
        rows = [[a["stage_name"], a["name"], *(a[f] for f in FIGURES)] for a in overview["acts"]]
        title = "各动作合规"
    elif table == "stages":
        headers = ["阶段", *FIGURES_ZH]
        rows = [[s["name"], *(s[f] for f in FIGURES)] for s in overview["stages"]]
        title = "各阶段合规"
    else:
        headers = [ROW_HEADERS[overview["rows_kind"]], *FIGURES_ZH]
        rows = [[r["label"], *(r[f] for f in FIGURES)] for r in overview["rows"]]
        title = f"按{ROW_HEADERS[overview['rows_kind']]}合规"
    rows.append(["合计", *([""] if table == "acts" else []), *(overview["total"][f] for f in FIGURES)])
    width = len(headers)
    return xlsx_response(
        filename=f"compliance-{table}-{due_from:%Y%m%d}-{due_to:%Y%m%d}.xlsx",
        title=f"{place}{title} {due_from:%Y-%m-%d}至{due_to:%Y-%m-%d}",
        headers=headers, rows=rows, percent_columns=[width - 1],
    )
