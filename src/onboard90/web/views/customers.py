"""客户页: one customer's journey, facts, SMS and the work the user can do on it — completing a task with
its checklist, the activation-day store acts of one visit together, a supervisor's reassignment, taking
(领取) another unit's task the user's unit may take.

The customer and every task are looked up in the user's scope: outside it, or unknown, is the same 404.
The full number shows only here, and each view of it is audited. Every write goes through the journeys'
services (the command line's rules); a refusal comes back as a message on this page, never a 500.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_POST

from onboard90.core import clock
from onboard90.core.language import day_month, is_english, pick
from onboard90.customers.services import customer_viewed
from onboard90.guide import selectors as guide_selectors
from onboard90.guide.booklet import render_booklet
from onboard90.guide.services import guide_hand_over
from onboard90.journeys import selectors, services
from onboard90.journeys.enums import RUNNING, AttemptOutcome
from onboard90.journeys.models import Task
from onboard90.journeys.rules.tasks import CompletionRefused
from onboard90.journeys.scoping import task_filter
from onboard90.messaging import selectors as selectors_messages
from onboard90.messaging.context import manager_context, vip_context
from onboard90.org.enums import UnitKind
from onboard90.org.models import Unit
from onboard90.org.scoping import scope_of
from onboard90.playbook.content import script_for
from onboard90.playbook.selectors import playbook_of
from onboard90.usage.selectors import customer_usage
from onboard90.web.views.workbench import lateness, local_time

REFUSALS = (services.TaskRefused, CompletionRefused, ValueError)
NOTE_MAX = 1000


def said(exc: Exception) -> str:
    """A service's refusal in the page's language: they are written "中文 / English"."""
    text = str(exc)
    if " / " not in text:
        return text
    zh, en = text.split(" / ", 1)
    if (get_language() or "").startswith("en"):
        # A visit's refusal is prefixed with the act's Chinese name: keep it.
        head = zh.split("：", 1)[0] + "：" if "：" in zh else ""
        return head + en
    return zh


def amount(value) -> str:
    """A fee or rate as staff say it: two decimals, more only when the rate has them (0.25, 0.0005)."""
    if value is None:
        return ""
    text = f"{value.normalize():f}"
    whole, _dot, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def person(user) -> str:
    if user is None:
        return ""
    profile = getattr(user, "staff", None)
    return (profile.display_name if profile and profile.display_name else "") or user.get_username()


# --- the page -----------------------------------------------------------------------------------------


def _timeline(playbook, day: int | None) -> dict:
    """The five moments over day 0–90 as bar segments (percent of the period), today's mark on it. A stage
    that spans the whole period (全程关怀) is not a moment: it is listed under the bar."""
    span = playbook.journey_days + 1
    moments, throughout = [], []
    for stage in playbook.stages:
        first, last = stage.days
        if first == 0 and last >= playbook.journey_days:
            throughout.append({"stage": stage, "name": pick(stage.name, stage.name_en)})
            continue
        moments.append({
            "stage": stage, "name": pick(stage.name, stage.name_en), "left": round(100 * first / span, 2), "width": round(100 * (last - first + 1) / span, 2),
            "current": day is not None and first <= day <= last,
        })
    today = None
    if day is not None and 0 <= day <= playbook.journey_days:
        today = round(100 * (day + 0.5) / span, 2)
    return {"moments": moments, "throughout": throughout, "today": today, "day": day}


def _visit_groups(work: list[dict], activated_on) -> tuple[list[dict], list[dict]]:
    """(visit, single): the user's workable acts that a store delivers in one visit — opened on the
    activation day and owned by the same store — go to one combined form when there are two or more."""
    by_store: dict[int, list[dict]] = {}
    for item in work:
        task, row = item["task"], item["row"]
        if task.owner_unit.kind == UnitKind.STORE and row.window_start == activated_on:
            by_store.setdefault(task.owner_unit_id, []).append(item)
    visit = next((items for items in by_store.values() if len(items) >= 2), [])
    chosen = {id(item) for item in visit}
    return visit, [item for item in work if id(item) not in chosen]


@require_GET
@login_required
def customer(request, msisdn: str):
    user = request.user
    scope = scope_of(user)
    reach = selectors.takeable_reach(scope)  # what the user's unit may take of other units' work (领取)
    found = selectors.customer_in_scope(scope=scope, msisdn=msisdn, reach=reach)
    if found is None:
        raise Http404
    customer_viewed(customer=found, viewed_by=user)
    now = clock.now()
    journey = selectors.customer_journey(customer=found, as_of=now)
    usage = customer_usage(customer=found, today=clock.local_date(now))
    playbook = journey["playbook"]
    takeable = set()
    if reach is not None:
        takeable = set(
            selectors.takeable_tasks(scope, reach=reach).filter(journey__customer=found).values_list("pk", flat=True)
        )
    acts, work, sms, take = [], [], [], []
    supervising = False
    for act in journey["acts"]:
        task = act["task"]
        running = task is not None and task.status in RUNNING
        entry = {
            **act,
            "name": pick(act["spec"].name, act["spec"].name_en),
            "window": _window(act),
            "owner": task.owner_unit.name if task else "",
            "assignee": person(task.assignee) if task else "",
            "outcome": task.get_outcome_display() if task and task.outcome else "",
            "attempts": list(task.attempt_log.all()) if task else [],
            "late_text": lateness(task.due_at, now)[0] if running else "",
            "late": running and task.due_at < now,
            "due": local_time(act["due_at"]) if act["due_at"] else "",
        }
        if running and act["spec"].task is not None and task.kind == "act" and selectors.can_act_on(user=user, task=task):
            spec = act["spec"].task
            entry["workable"] = True
            work.append({
                **entry,
                "title": pick(spec.title, spec.title_en),
                "script": script_for(playbook, act["spec"], found.city.code, english=is_english()),
                "checklist": [{"code": item.code, "text": pick(item.text, item.text_en)} for item in spec.checklist],
                "max_attempts": task.max_attempts,
            })
        elif running and task.pk in takeable:
            entry["takeable"] = True
            take.append(entry)
        if running and selectors.is_supervisor_of(user=user, task=task):
            entry["reassignable"] = True
            supervising = True
        acts.append(entry)
        if act["sms"] is not None:
            sms.append(_message_row(entry["name"], act["sms"]))
    visit, single = _visit_groups(work, found.activated_on)
    stages = []
    if playbook is not None:
        for stage in playbook.stages:
            rows = [a for a in acts if a["stage"] == stage.number]
            if rows:
                stages.append({"stage": stage, "name": pick(stage.name, stage.name_en), "acts": rows})
    context = {
        "c": found,
        "journey": journey["journey"],
        "timeline": _timeline(playbook, journey["day"]) if playbook else None,
        "stage_now": _stage_name(playbook.stage_on_day(journey["day"])) if playbook and journey["day"] is not None else "",
        "city_name": pick(found.city.name, found.city.name_en),
        "stages": stages,
        # The messages without an act (an opt-out's confirmation, a data-surge alert), named by what they are for.
        "sms": sms + [_message_row(m.get_purpose_display(), m) for m in selectors_messages.answers_to(customer=found)],
        "replies": [
            {"at": local_time(r.received_at, year=True), "text": r.text, "kind": r.get_kind_display(), "score": r.score}
            for r in selectors_messages.replies_of(customer=found)
        ],
        "visit": visit,
        "visit_unit": visit[0]["task"].owner_unit.name if visit else "",
        "work": single,
        "take": take,
        "outcomes": AttemptOutcome.choices,
        "reassign": selectors.city_staff_and_units(city_id=found.city_id) if supervising else None,
        "rates": {
            "fee": amount(found.package.monthly_fee), "voice": amount(found.package.voice_rate),
            "data": amount(found.package.data_rate), "sms": amount(found.package.sms_rate),
            "video": amount(found.package.video_rate),
            "long_distance": amount(found.package.long_distance_rate) if found.package.long_distance_rate else "",
        },
        "benefits": vip_context(found.vip_tier)["benefits"] if found.vip_tier else [],
        "manager_phone": manager_context(found.account_manager)["phone"] if found.account_manager else "",
        "activated": local_time(found.activated_at, year=True),
        "manager_assigned": local_time(found.manager_assigned_at, year=True),
        "manager": person(found.account_manager),
        "now": local_time(now, year=True),
        "booklet": {"handed": _handed(found)},
        "usage": usage,
        "usage_chart": _usage_chart(usage),
    }
    return render(request, "web/customer.html", context)


def _usage_chart(usage: dict) -> dict:
    """The customer page's usage charts as plain data (rendered by ECharts; the tables beside them say the
    same in figures): data by day, and each month's voice/data/SMS as a share of the allowance."""
    return {
        "days": [d["day"][5:] for d in usage["days"]],
        "data_mb": [d["data_mb"] for d in usage["days"]],
        "months": [m["month"] for m in usage["months"]],
        "parts": {
            part: [next(p["percent"] for p in m["parts"] if p["part"] == part) for m in usage["months"]]
            for part in ("voice", "data", "sms")
        },
        "labels": {"voice": str(_("通话")), "data": str(_("流量")), "sms": str(_("短信")),
                   "data_mb": str(_("流量(MB)")), "percent": str(_("占套餐%"))},
    }


def _handed(customer) -> dict | None:
    last = guide_selectors.last_handover(customer=customer)
    if last is None:
        return None
    return {"at": local_time(last.handed_at, year=True), "by": person(last.handed_over_by) if last.handed_over_by else last.handed_over_label}


# Why a message did not go (its `last_error` when missed or failed), as staff read it.
NOT_SENT = {
    "sms_window_closed": _lazy("窗口已过，未发送"),
    "opted_out": _lazy("客户已退订营销短信"),
    "sms_daily_limit": _lazy("超过每日短信上限"),
    "sms_unconfirmed": _lazy("网关未确认，无送达报告"),
}


def _message_row(act_name: str, message) -> dict:
    """One SMS of the customer page: its text, status and when; the delivery report and when it came; why it
    did not go."""
    return {
        "act": act_name, "message": message,
        "at": local_time(message.sent_at or message.scheduled_at, year=True),
        "delivery": message.get_delivery_display() if message.delivery else "",
        "delivery_at": local_time(message.delivery_at, year=True) if message.delivery_at else "",
        "why": NOT_SENT.get(message.last_error, "") if message.status in ("missed", "failed") else "",
    }


def _window(act: dict) -> str:
    start, end = act["window_start"], act["window_end"]
    if start is None or end is None:
        return ""
    if start == end:
        return day_month(start)
    return f"{day_month(start)} – {day_month(end)}"


def _stage_name(stage) -> str:
    return pick(stage.name, stage.name_en) if stage is not None else ""


# --- writes -------------------------------------------------------------------------------------------


def _back(task, anchor: bool = True):
    url = reverse("customer", args=[task.journey.customer.msisdn])
    return redirect(url + (f"#task-{task.pk}" if anchor else ""))


def posted_back(request, task) -> str:
    """Where a task action posted from a list or a page returns: the form's own `next` when it stays on this
    site (the workbench, the escalations), else the task on its customer page."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("customer", args=[task.journey.customer.msisdn]) + f"#task-{task.pk}"


def _customer_or_404(request, msisdn: str):
    """The customer with this number if the user's scope reaches them; 404 otherwise, as for an unknown number."""
    found = selectors.customer_in_scope(scope=scope_of(request.user), msisdn=msisdn)
    if found is None:
        raise Http404
    return found


def _note(request) -> str:
    return request.POST.get("note", "").strip()[:NOTE_MAX]


@require_POST
@login_required
def task_complete(request, task_id: int):
    """登记一次服务/联系: the outcome, the ticked checklist and a note, through `task_complete`."""
    task = selectors.task_in_scope(scope=scope_of(request.user), task_id=task_id)
    if task is None:
        raise Http404
    outcome = request.POST.get("outcome", "")
    if outcome not in AttemptOutcome.values:
        messages.error(request, _("请选择结果（已联系、无人接听、占线、号码错误或客户拒绝）。"))
        return _back(task)
    checklist = request.POST.getlist("check") if request.POST.get("has_checklist") else None
    try:
        done = services.task_complete_checked(
            task=task, outcome=outcome, completed_by=request.user, checklist=checklist, note=_note(request),
            now=clock.now(),
        )
    except REFUSALS as exc:
        messages.error(request, _("未登记：%(why)s") % {"why": said(exc)})
        return _back(task)
    label = AttemptOutcome(outcome).label
    if done.status in RUNNING:
        messages.warning(request, _("已记录“%(outcome)s”（第 %(n)d 次，共可尝试 %(max)d 次），任务仍待完成。") % {
            "outcome": label, "n": done.attempts, "max": done.max_attempts})
    else:
        messages.success(request, _("已登记“%(outcome)s”，任务已关闭：%(status)s。") % {
            "outcome": label, "status": done.get_status_display()})
    return _back(task)


@require_POST
@login_required
def customer_visit(request, msisdn: str):
    """One visit's acts from one combined checklist: each act recorded on its own, all or none."""
    scope = scope_of(request.user)
    found = selectors.customer_in_scope(scope=scope, msisdn=msisdn)
    if found is None:
        raise Http404
    back = redirect(reverse("customer", args=[found.msisdn]) + "#visit")
    raw = request.POST.getlist("task")
    if not raw or not all(value.isdigit() for value in raw):
        messages.error(request, _("没有可登记的服务动作，请刷新页面后重试。"))
        return back
    ids = list(dict.fromkeys(int(value) for value in raw))

    reachable = Task.objects.filter(task_filter(scope), pk__in=ids, journey__customer=found).count()
    if reachable != len(ids):
        raise Http404
    outcome = request.POST.get("outcome", "")
    if outcome not in AttemptOutcome.values:
        messages.error(request, _("请选择结果（已联系、无人接听、占线、号码错误或客户拒绝）。"))
        return back
    checklists = {pk: request.POST.getlist(f"check-{pk}") for pk in ids}
    try:
        done = services.tasks_complete_together(
            checklists=checklists, outcome=outcome, completed_by=request.user, note=_note(request), now=clock.now()
        )
    except REFUSALS as exc:
        messages.error(request, _("本次接待未登记（所有动作均未保存）：%(why)s") % {"why": said(exc)})
        return back
    messages.success(request, _("本次接待已登记 %(n)d 项服务动作。") % {"n": len(done)})
    return back


@require_POST
@login_required
def task_reassign(request, task_id: int):
    """改派 (supervisors): to a unit and/or a person of the task's city. `next` brings the user back to the
    page that posted (the customer page, the escalations list)."""

    task = selectors.task_in_scope(scope=scope_of(request.user), task_id=task_id)
    if task is None:
        raise Http404
    target = posted_back(request, task)
    unit_id, user_id = request.POST.get("to_unit", "").strip(), request.POST.get("to_user", "").strip()
    if (unit_id and not unit_id.isdigit()) or (user_id and not user_id.isdigit()):
        messages.error(request, _("改派对象无效，请从列表中选择。"))
        return redirect(target)
    to_unit = Unit.objects.filter(pk=int(unit_id)).first() if unit_id else None
    to_user = get_user_model().objects.filter(pk=int(user_id)).first() if user_id else None
    if (unit_id and to_unit is None) or (user_id and to_user is None):
        messages.error(request, _("改派对象不存在，请从列表中选择。"))
        return redirect(target)
    try:
        done = services.task_reassign(
            task=task, reassigned_by=request.user, to_unit=to_unit, to_user=to_user,
            reason=request.POST.get("reason", "")[:200], now=clock.now(),
        )
    except REFUSALS as exc:
        messages.error(request, _("未改派：%(why)s") % {"why": said(exc)})
        return redirect(target)
    who = person(done.assignee) if done.assignee else _("单位内任何人")
    messages.success(request, _("任务已改派给 %(unit)s · %(who)s。") % {"unit": done.owner_unit.name, "who": who})
    return redirect(target)


@require_POST
@login_required
def task_take(request, task_id: int):
    """领取: the user takes a task of another unit of their city onto their own unit's desk (the club takes a
    store's coaching when the customer comes to the club), through `services.task_take`. `next` brings them
    back to the page that posted (the workbench, the customer page); a refusal is a message there."""

    task = selectors.task_in_scope(scope=scope_of(request.user), task_id=task_id)
    if task is None:
        raise Http404
    customer = task.journey.customer
    target = posted_back(request, task)
    try:
        done = services.task_take(task=task, taken_by=request.user, now=clock.now())
    except REFUSALS as exc:
        messages.error(request, _("未领取：%(why)s") % {"why": said(exc)})
        return redirect(target)
    try:
        spec = playbook_of(task.journey.playbook_version).action(task.action.action_code)
        act = pick(spec.name, spec.name_en)
    except KeyError:
        act = task.action.action_code
    messages.success(request, _("已领取“%(act)s”（%(number)s），任务已转到%(unit)s，由您负责。") % {
        "act": act, "number": customer.masked_msisdn, "unit": done.owner_unit.name})
    return redirect(target)


@require_GET
@login_required
def customer_booklet(request, msisdn: str):
    """打印服务指南: the customer's own booklet as a PDF, for the store's printer (scoped like the page)."""
    found = _customer_or_404(request, msisdn)
    response = HttpResponse(render_booklet(found), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="guide-{found.masked_msisdn.replace("*", "x")}.pdf"'
    return response


@require_POST
@login_required
def customer_booklet_handed(request, msisdn: str):
    """The booklet was handed to the customer: recorded as the `guide` delivery of the acts that name it."""
    found = _customer_or_404(request, msisdn)
    try:
        guide_hand_over(customer=found, handed_over_by=request.user)
    except ValueError as exc:
        messages.error(request, said(exc))
    else:
        messages.success(request, _("已登记：服务指南已递交给客户。"))
    return redirect(reverse("customer", args=[found.msisdn]))

