"""管理看板: compliance per act and stage, drilled down province → city → store/unit → staff member, with the
operations sections (VIP clocks, overdue, SMS, workload) beside it; every table exports to Excel.

Thin: parse the filters, call the reporting selectors, render. Out of scope (a clerk, another city, an
unknown code) answers 404.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from onboard90.core import clock
from onboard90.core.language import pick
from onboard90.journeys.selectors import FIGURES, FIGURES_ZH
from onboard90.org.scoping import scope_of
from onboard90.reporting import selectors
from onboard90.reporting.operations import operations_overview
from onboard90.web.exports import xlsx_response

ROW_HEADERS = {"city": gettext_lazy("地市"), "store": gettext_lazy("营业厅"), "staff": gettext_lazy("员工")}
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
            "row_header": str(ROW_HEADERS[overview["rows_kind"]]),
            "city_name": pick(target.city.name, target.city.name_en) if target.city else "",
            "figure_headers": [_(h) for h in FIGURES_ZH[:-1]],
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
    if target.unit:
        place = target.unit.name
    else:
        place = pick(target.city.name, target.city.name_en) if target.city else _("全省")
    figure_headers = [capfirst(_(h)) for h in FIGURES_ZH]
    if table == "acts":
        headers = [capfirst(_("阶段")), capfirst(_("服务动作")), *figure_headers]
        rows = [[a["stage_name"], a["name"], *(a[f] for f in FIGURES)] for a in overview["acts"]]
        title = _("各动作合规")
    elif table == "stages":
        headers = [capfirst(_("阶段")), *figure_headers]
        rows = [[s["name"], *(s[f] for f in FIGURES)] for s in overview["stages"]]
        title = _("各阶段合规")
    else:
        row_header = str(ROW_HEADERS[overview["rows_kind"]])
        headers = [capfirst(row_header), *figure_headers]
        rows = [[r["label"], *(r[f] for f in FIGURES)] for r in overview["rows"]]
        title = _("按%(rows)s合规") % {"rows": row_header}
    rows.append([_("合计"), *([""] if table == "acts" else []), *(overview["total"][f] for f in FIGURES)])
    width = len(headers)
    return xlsx_response(
        filename=f"compliance-{table}-{due_from:%Y%m%d}-{due_to:%Y%m%d}.xlsx",
        title=_("%(place)s%(title)s %(start)s至%(end)s")
        % {"place": place, "title": title, "start": f"{due_from:%Y-%m-%d}", "end": f"{due_to:%Y-%m-%d}"},
        headers=headers, rows=rows, percent_columns=[width - 1],
    )
