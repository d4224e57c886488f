"""Writes of the journey engine: start and end journeys, the daily cycle, task outcomes, assignment."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from onboard90.core import clock
from onboard90.core.bulk import chunks, insert_objects, insert_values, update_rows
from onboard90.core.services import audit_record
from onboard90.journeys import usage_acts
from onboard90.journeys.engine import record_unopened
from onboard90.journeys.enums import RUNNING, ActionStatus, AttemptOutcome, JourneyStatus, TaskKind
from onboard90.journeys.models import Escalation, Journey, JourneyAction, Task, TaskAttempt
from onboard90.journeys.rules.tasks import (
    CLOSING_REACHED,
    CompletionRefused,
    attempt_result,
    completion_timing,
    may_act,
)
from onboard90.journeys.selectors import can_act_on, is_supervisor_of, takeable_unit_kinds
from onboard90.journeys.signals import acts_moved, journeys_closed
from onboard90.messaging.enums import UNSENT, MessageStatus, Purpose
from onboard90.messaging.models import OutboxMessage
from onboard90.org.models import StaffProfile
from onboard90.org.scoping import escalation_filter, scope_of
from onboard90.playbook.selectors import current_version, playbook_of

log = logging.getLogger("onboard90.journeys")


def journeys_start(*, customer_ids: list[int], at: dt.datetime) -> int:
    """Open a journey on the current playbook for each customer that has none; returns how many opened."""
    if not customer_ids:
        return 0
    version = current_version()
    with transaction.atomic():
        existing = set(Journey.objects.filter(customer_id__in=customer_ids).values_list("customer_id", flat=True))
        new = [
            Journey(customer_id=cid, playbook_version=version, started_at=at)
            for cid in dict.fromkeys(customer_ids)
            if cid not in existing
        ]
        insert_objects(Journey, new)  # no ids needed back: a prepared insert, not bulk_create's compiling
    return len(new)


def journey_exit(*, customer, at: dt.datetime, reason: str = "cancellation") -> bool:
    """The customer left (离网): the journey exits, open work is cancelled, no further SMS goes out."""
    with transaction.atomic():
        journey = Journey.objects.select_for_update().filter(customer=customer).first()
        if journey is None or journey.status != JourneyStatus.ACTIVE:
            return False
        running = JourneyAction.objects.filter(journey=journey, status__in=RUNNING)
        Task.objects.filter(journey=journey, status__in=RUNNING).update(status=ActionStatus.CANCELLED, completed_at=at)
        OutboxMessage.objects.filter(action__journey=journey, status__in=UNSENT).update(
            status=MessageStatus.CANCELLED, last_error=reason
        )
        # A data-surge alert's SMS has no act (journeys.surge_acts): it goes with the customer's journey too.
        OutboxMessage.objects.filter(
            customer_id=journey.customer_id, purpose=Purpose.DATA_SURGE_ALERT, status__in=UNSENT
        ).update(status=MessageStatus.CANCELLED, last_error=reason)
        running.update(status=ActionStatus.CANCELLED, closed_at=at, reason=reason)
        journey.status = JourneyStatus.EXITED
        journey.closed_at = at
        journey.save(update_fields=["status", "closed_at"])

        record_unopened(journey_ids=[journey.pk], status=ActionStatus.CANCELLED, at=at)
        journeys_closed.send(
            sender=Journey, journeys=Journey.objects.filter(pk=journey.pk), status=JourneyStatus.EXITED, at=at
        )
    log.info("journey %s exited (%s)", journey.pk, reason)
    return True


# --- tasks --------------------------------------------------------------------------------------------


def completion_grace() -> dt.timedelta:
    """How long after the claimed time a completion may still be entered without being backdated."""
    return dt.timedelta(hours=settings.ONBOARD90["COMPLETION_GRACE_HOURS"])


def task_complete(
    *, task: Task, outcome: str, completed_by, at: dt.datetime | None = None, note: str = "", reason: str = "",
    now: dt.datetime | None = None,
) -> Task:
    """Record what happened on a task. Reached/refused closes it; no answer/busy retries until spent.

    A wrong number, or the last unanswered attempt, closes the act as missed: the customer never got it.

    `completed_by` (the person, or a feed's system account) is required and must be allowed to act on the
    task (`can_act_on`). `at` is the time the work is claimed to have happened (default: now); it may not
    be before the task existed nor after `now`, the real instant of entry (the clock is passed in by
    tests). A claim older than the grace (`completion_grace`) is backdated: only the city's supervisor may
    enter it, with a `reason`; it is marked on the task and counted apart by the compliance report. The
    audit row carries the real instant and the claimed time side by side.
    """
    if outcome not in AttemptOutcome.values:
        raise ValueError(f"未知结果 / unknown outcome {outcome!r} (choose: {', '.join(AttemptOutcome.values)})")
    now = now or clock.now()
    at = at or now
    reason = reason.strip()
    with transaction.atomic():
        task = Task.objects.select_for_update().select_related("action", "owner_unit").get(pk=task.pk)
        if task.status not in RUNNING:
            raise TaskNotOpen(
                f"任务 {task.pk} 已关闭({task.get_status_display()})，如需更正请主管使用 correct / task {task.pk} "
                f"is already closed ({task.status}); a supervisor can correct it (`onboard90 correct`)"
            )
        if task.kind == TaskKind.MANUAL_ASSIGNMENT:
            raise TaskNotOpen(
                f"任务 {task.pk} 需要指定客户经理 / task {task.pk} is a manual account-manager assignment: "
                "add an account manager in the city (`onboard90 staff add … --role account_manager`); "
                "the next cycle assigns automatically"
            )
        if completed_by is None:
            raise TaskRefused("须指明完成人 / a completion must name who did it (--as USER)")
        if not can_act_on(user=completed_by, task=task):
            raise TaskRefused(f"{completed_by.get_username()} 无权处理任务 {task.pk} / may not act on task {task.pk}")
        backdated = completion_timing(claimed_at=at, entered_at=now, created_at=task.created_at, grace=completion_grace())
        if backdated:
            _require_supervisor_with_reason(
                user=completed_by, task=task, reason=reason, zh="补录", en="a backdated completion"
            )
        before = {"status": task.status, "attempts": task.attempts}
        status, act_reason = attempt_result(
            outcome=outcome, attempts_before=task.attempts, max_attempts=task.max_attempts, at=at, due_at=task.due_at
        )
        TaskAttempt.objects.create(task=task, at=at, outcome=outcome, note=note, by=completed_by)
        task.attempts += 1
        task.outcome = outcome
        if note:
            task.note = f"{task.note}\n{note}".strip()
        fields = ["attempts", "outcome", "note"]
        if status is not None:
            task.status, task.completed_at, task.completed_by = status, at, completed_by
            task.completion_entered_at, task.backdated, task.completion_reason = now, backdated, reason
            fields += ["status", "completed_at", "completed_by", "completion_entered_at", "backdated", "completion_reason"]
        task.save(update_fields=fields)  # before the signal: its receivers read the task as it now stands
        if status is not None:
            JourneyAction.objects.filter(pk=task.action_id).update(status=status, closed_at=at, reason=act_reason)
            acts_moved.send(sender=Task, changes=[(task.action_id, task.action.status, status, False, backdated)])
            usage_acts.record_offer_taken(task=task, outcome=outcome, at=at)
        audit_record(
            actor=completed_by, verb="task.complete", obj=task, before=before,
            after={
                "status": task.status, "attempts": task.attempts, "outcome": outcome, "backdated": backdated,
                **({"reason": reason} if reason else {}),
            },
            claimed_at=at,
        )
    return task


def task_correct(
    *, task: Task, outcome: str, corrected_by, reason: str, at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Task:
    """更正: a supervisor corrects the outcome of a closed task (e.g. recorded unanswered, in fact reached).

    Only the city's supervisor (or a province administrator) may, always with a reason. The first record
    stays: its attempt and audit rows are kept, the correction is one more attempt and one more audit row
    with the status before and after. `at` is when the corrected outcome happened (default: the first
    record's time) and is bounded as a completion is; older than the grace, the task is backdated.
    """
    if outcome not in AttemptOutcome.values:
        raise ValueError(f"未知结果 / unknown outcome {outcome!r} (choose: {', '.join(AttemptOutcome.values)})")
    if corrected_by is None:
        raise TaskRefused("须指明更正人 / a correction must name the supervisor making it (--as USER)")
    now = now or clock.now()
    reason = reason.strip()
    with transaction.atomic():
        task = Task.objects.select_for_update().select_related("action", "owner_unit").get(pk=task.pk)
        _require_supervisor_with_reason(user=corrected_by, task=task, reason=reason, zh="更正", en="a correction")
        if task.status not in (ActionStatus.DONE, ActionStatus.DONE_LATE, ActionStatus.MISSED):
            raise TaskRefused(
                f"任务 {task.pk} 状态为{task.get_status_display()}，只能更正已完成或未完成的任务 / task {task.pk} is "
                f"{task.status}: only a done, done-late or missed task can be corrected"
            )
        at = at or task.completed_at or now
        backdated = completion_timing(claimed_at=at, entered_at=now, created_at=task.created_at, grace=completion_grace())
        if outcome in CLOSING_REACHED:
            status, act_reason = (ActionStatus.DONE if at <= task.due_at else ActionStatus.DONE_LATE), ""
        else:  # a correction is final: an unanswered or wrong number means the customer never got the act
            status, act_reason = ActionStatus.MISSED, "wrong_number" if outcome == "wrong_number" else "unreachable"
        before = {
            "status": task.status, "outcome": task.outcome, "completed_at": _iso(task.completed_at),
            "backdated": task.backdated,
        }
        TaskAttempt.objects.create(task=task, at=at, outcome=outcome, note=f"更正 / correction: {reason}", by=corrected_by)
        task.status, task.outcome, task.completed_at = status, outcome, at
        task.backdated, task.completion_reason, task.corrected_at = backdated, reason, now
        task.completion_entered_at = now
        task.save(update_fields=[
            "status", "outcome", "completed_at", "backdated", "completion_reason", "corrected_at", "completion_entered_at",
        ])
        JourneyAction.objects.filter(pk=task.action_id).update(status=status, closed_at=at, reason=act_reason)
        acts_moved.send(
            sender=Task, changes=[(task.action_id, task.action.status, status, before["backdated"], backdated)]
        )
        audit_record(
            actor=corrected_by, verb="task.correct", obj=task, before=before,
            after={"status": status, "outcome": outcome, "completed_at": _iso(at), "backdated": backdated, "reason": reason},
            claimed_at=at,
        )
    return task


class TaskRefused(ValueError):
    """A task write the rules do not allow (no actor, out of scope, backdated without a supervisor)."""


class TaskNotOpen(TaskRefused):
    """Work recorded on a task that is closed, or that is not an act's (a manual manager assignment)."""


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(clock.OPERATOR_TZ).isoformat() if value else None


def _require_supervisor_with_reason(*, user, task: Task, reason: str, zh: str, en: str) -> None:
    hours = settings.ONBOARD90["COMPLETION_GRACE_HOURS"]
    if not is_supervisor_of(user=user, task=task):
        raise TaskRefused(
            f"{zh}只能由地市主管录入（完成时间早于 {hours} 小时前即为补录）/ {en} can only be entered by the city's "
            f"supervisor (task {task.pk}; a completion claimed more than {hours} h ago is backdated)"
        )
    if not reason:
        raise TaskRefused(f"{zh}须说明原因 / {en} needs a reason (--reason)")


def _actors(user_ids) -> dict[int, dict]:
    """{user id: the keyword arguments of `may_act` that describe the user} for a batch's named users."""
    rows = get_user_model().objects.filter(pk__in=[u for u in set(user_ids) if u is not None]).values_list(
        "pk", "is_superuser", "staff__role", "staff__active", "staff__city_id", "staff__unit_id"
    )
    return {
        pk: {"role": role, "active": bool(active), "superuser": superuser, "user_id": pk, "user_city_id": city,
             "user_unit_id": unit}
        for pk, superuser, role, active, city, unit in rows
    }


class _TaskState:
    """The columns of a task that the attempt rule reads and writes: a row, not a model instance (a
    dialler's file is large)."""

    # The attribute names; _TASK_COLUMNS the columns they are read from, in the same order.
    __slots__ = (
        "attempts", "outcome", "status", "completed_at", "completed_by", "max_attempts", "due_at", "action_id",
        "created_at", "completion_entered_at", "assignee_id", "owner_unit_id", "owner_city_id",
    )

    def __init__(self, *row):
        for name, value in zip(self.__slots__, row, strict=True):
            setattr(self, name, value)


_TASK_COLUMNS = (*_TaskState.__slots__[:-1], "owner_unit__city_id")


def tasks_complete_bulk(
    *, completions: list[tuple[int, str, dt.datetime, int | None]], source: str, now: dt.datetime | None = None
) -> dict[str, int]:
    """Record many attempts at once — (task id, outcome, at, user id) — under the same rule as task_complete.

    For batch feeds (a call-centre dialler's end-of-day file, the demo's simulated staff): a few bulk
    statements instead of five queries per task, and one audit row for the batch, named by `source` (the
    feed). The same rules as one completion, row by row: a row that names no one, or someone who may not
    act on the task, is refused; so is an attempt claimed before its task existed or after `now` (the real
    instant of entry), and one older than the grace, which only a supervisor may enter, one at a time
    with a reason (`task_complete`). A row for a task that is not running is skipped, as task_complete
    refuses it.
    """
    counts = {"closed": 0, "retried": 0, "skipped": 0, "refused": 0}
    if not completions:
        return counts
    unknown = sorted({c[1] for c in completions} - set(AttemptOutcome.values))
    if unknown:  # a malformed file: nothing of it is recorded
        raise ValueError(f"未知结果 / unknown outcome(s) {', '.join(map(repr, unknown))} (choose: {', '.join(AttemptOutcome.values)})")
    now = now or clock.now()
    grace = completion_grace()
    with transaction.atomic():
        tasks: dict[int, _TaskState] = {}
        for ids in chunks(list(dict.fromkeys(c[0] for c in completions)), 2000):
            running = Task.objects.select_for_update().filter(pk__in=ids, status__in=RUNNING, kind=TaskKind.ACT)
            for pk, *row in running.values_list("pk", *_TASK_COLUMNS):
                tasks[pk] = _TaskState(*row)
        actors = _actors(c[3] for c in completions)
        attempts, closing, touched, moved = [], [], {}, []
        for task_id, outcome, at, user_id in completions:
            task = tasks.get(task_id)
            if task is None or task.status not in RUNNING:  # not a running act's task, or closed by an earlier row
                counts["skipped"] += 1
                continue
            actor = actors.get(user_id)
            allowed = actor is not None and may_act(
                **actor, assignee_id=task.assignee_id, owner_unit_id=task.owner_unit_id,
                owner_city_id=task.owner_city_id,
            )
            try:
                backdated = completion_timing(claimed_at=at, entered_at=now, created_at=task.created_at, grace=grace)
            except CompletionRefused:
                backdated = True
            if not allowed or backdated:  # no one, out of scope, impossible, or a supervisor's to enter
                counts["refused"] += 1
                continue
            status, reason = attempt_result(
                outcome=outcome, attempts_before=task.attempts, max_attempts=task.max_attempts, at=at,
                due_at=task.due_at,
            )
            attempts.append((task_id, at, outcome, "", user_id))
            touched[task_id] = task
            task.attempts, task.outcome = task.attempts + 1, outcome
            if status is None:
                counts["retried"] += 1
            else:
                moved.append((task.action_id, task.status, status))
                task.status, task.completed_at, task.completed_by = status, at, user_id
                task.completion_entered_at = now
                closing.append((task.action_id, status, at, reason))
                counts["closed"] += 1
        insert_values(TaskAttempt, ["task", "at", "outcome", "note", "by"], attempts)
        update_rows(
            Task, ["attempts", "outcome", "status", "completed_at", "completed_by", "completion_entered_at"],
            (
                (pk, task.attempts, task.outcome, task.status, task.completed_at, task.completed_by,
                 task.completion_entered_at)
                for pk, task in touched.items()
            ),
        )
        update_rows(JourneyAction, ["status", "closed_at", "reason"], closing)
        acts_moved.send(sender=Task, changes=moved)
        usage_acts.record_offers_taken(
            closed=[(pk, task.outcome, task.completed_at) for pk, task in touched.items() if task.status not in RUNNING]
        )
        audit_record(actor=None, verb="task.complete_bulk", object_type="journeys.task", actor_label=source, after=counts)
    return counts


# --- escalations (升级处理) ---------------------------------------------------------------------------------


class EscalationRefused(ValueError):
    """An escalation write the rules do not allow (already acknowledged, no one named)."""


def escalation_acknowledge(*, escalation, acknowledged_by, note: str = "", now: dt.datetime | None = None):
    """确认升级: the supervisor has seen an escalation (and says, in `note`, what they did about it).

    Once only: a second acknowledgement is refused with who and when, so two supervisors looking at the
    same list cannot overwrite each other's receipt. The caller has found the escalation through the
    user's scope (`org.scoping.escalation_filter`); this checks the acting user is a supervisor of its city
    (or the province) all the same, as a command line or a script would not have.
    """
    if acknowledged_by is None:
        raise EscalationRefused("须指明确认人 / an acknowledgement must name the supervisor making it")
    now = now or clock.now()
    note = note.strip()[:255]
    with transaction.atomic():
        row = Escalation.objects.select_for_update().filter(pk=escalation.pk).first()
        if row is None or not Escalation.objects.filter(escalation_filter(scope_of(acknowledged_by)), pk=row.pk).exists():
            raise EscalationRefused(
                f"{acknowledged_by.get_username()} 无权确认升级 {escalation.pk} / may not acknowledge escalation "
                f"{escalation.pk}"
            )
        if row.acknowledged_at is not None:
            by = row.acknowledged_by.get_username() if row.acknowledged_by_id else "—"
            when = row.acknowledged_at.astimezone(clock.OPERATOR_TZ)
            raise EscalationRefused(
                f"该升级已由 {by} 于 {when:%Y-%m-%d %H:%M} 确认，无需重复确认 / escalation {row.pk} was already "
                f"acknowledged by {by} at {when:%Y-%m-%d %H:%M}"
            )
        row.acknowledged_at, row.acknowledged_by, row.note = now, acknowledged_by, note
        row.save(update_fields=["acknowledged_at", "acknowledged_by", "note"])
        audit_record(
            actor=acknowledged_by, verb="escalation.acknowledge", obj=row, before={"acknowledged_at": None},
            after={"acknowledged_at": _iso(now), "task": row.task_id, **({"note": note} if note else {})},
        )
    return row


# --- the staff's screens: completion with a checklist, one visit's acts, reassignment -------------------


def _checklist_of(task: Task, ticked) -> dict[str, bool]:
    """{item code: ticked} over the act's checklist in the playbook; an item the playbook does not list is
    refused (a form from an older page, or a forged one), never stored."""
    spec = playbook_of(task.journey.playbook_version).action(task.action.action_code).task
    items = [item.code for item in spec.checklist] if spec else []
    unknown = sorted(set(ticked) - set(items))
    if unknown:
        raise ValueError(f"未知核对项 / unknown checklist item(s): {', '.join(unknown)}")
    return {code: code in ticked for code in items}


def task_complete_checked(
    *, task: Task, outcome: str, completed_by, checklist=None, note: str = "", now: dt.datetime | None = None
) -> Task:
    """task_complete (the same rules as the command line's `complete`) plus the items the person ticked,
    stored on `Task.checklist` in the same transaction. `checklist` is the ticked item codes (None: the
    form had no checklist, nothing is stored)."""
    with transaction.atomic():
        task = Task.objects.select_related("action", "journey__playbook_version", "owner_unit").get(pk=task.pk)
        ticks = _checklist_of(task, checklist) if checklist is not None else None
        task = task_complete(task=task, outcome=outcome, completed_by=completed_by, note=note, now=now)
        if ticks is not None:
            Task.objects.filter(pk=task.pk).update(checklist=ticks)
            task.checklist = ticks
    return task


class VisitRefused(TaskRefused):
    """One act of a visit was refused: nothing of the visit is recorded. `task` is the act that was."""

    def __init__(self, message: str, task: Task):
        super().__init__(message)
        self.task = task


def tasks_complete_together(
    *, checklists: dict[int, list[str]], outcome: str, completed_by, note: str = "", now: dt.datetime | None = None
) -> list[Task]:
    """The acts one person delivers in one visit (the activation-day store acts), recorded together: one
    task_complete per task, each with its own checklist, all in one transaction. If one is refused, none is
    written, and the refusal names that act."""
    if not checklists:
        raise ValueError("没有选择要登记的服务动作 / no act chosen")
    done = []
    with transaction.atomic():
        tasks = Task.objects.select_related("action", "journey__playbook_version", "owner_unit").in_bulk(list(checklists))
        for task_id, ticked in checklists.items():
            task = tasks.get(task_id)
            if task is None:
                raise TaskRefused(f"任务 {task_id} 不存在 / no task {task_id}")
            try:
                done.append(task_complete_checked(
                    task=task, outcome=outcome, completed_by=completed_by, checklist=ticked, note=note, now=now
                ))
            except (TaskRefused, CompletionRefused, ValueError) as exc:
                name = playbook_of(task.journey.playbook_version).action(task.action.action_code).name
                raise VisitRefused(f"{name}：{exc}", task) from exc
    return done


def task_reassign(
    *, task: Task, reassigned_by, to_unit=None, to_user=None, reason: str = "", now: dt.datetime | None = None
) -> Task:
    """改派: a supervisor (or the province) moves a running task to another unit and/or person of its city.

    To a unit alone, the task is the unit's again (no assignee: any of its staff may work it). To a
    person, their unit becomes the owner (a supervisor, who has no unit, takes it on the same unit). A
    target outside the task's city, a closed task and anyone but the city's supervisor or the province are
    refused (TaskRefused). Audited with the owner before and after.
    """
    if reassigned_by is None or not getattr(reassigned_by, "is_authenticated", False):
        raise TaskRefused("须指明改派人 / a reassignment must name the supervisor making it")
    if to_unit is None and to_user is None:
        raise TaskRefused("请选择改派到的单位或人员 / choose a unit or a person to reassign to")
    now = now or clock.now()
    reason = (reason or "").strip()
    with transaction.atomic():
        task = Task.objects.select_for_update(of=("self",)).select_related("owner_unit", "assignee").get(pk=task.pk)
        if not is_supervisor_of(user=reassigned_by, task=task):
            raise TaskRefused(
                f"只有本地市主管可以改派任务 {task.pk} / only the city's supervisor may reassign task {task.pk}"
            )
        if task.status not in RUNNING:
            raise TaskNotOpen(
                f"任务 {task.pk} 已关闭({task.get_status_display()})，不能改派 / task {task.pk} is closed ({task.status})"
            )
        city_id = task.owner_unit.city_id
        if to_unit is not None and to_unit.city_id != city_id:
            raise TaskRefused(f"{to_unit.name} 不属于本地市 / {to_unit.code} is not a unit of the task's city")
        unit = to_unit or task.owner_unit
        if to_user is not None:
            profile = StaffProfile.objects.select_related("unit").filter(user=to_user).first()
            if profile is None or not profile.active or not to_user.is_active:
                raise TaskRefused(f"{to_user.get_username()} 不是在岗员工 / is not active staff")
            person_city = profile.unit.city_id if profile.unit_id else profile.city_id
            if person_city != city_id:
                raise TaskRefused(f"{to_user.get_username()} 不属于本地市 / is not staff of the task's city")
            if profile.unit_id and to_unit is not None and profile.unit_id != to_unit.pk:
                raise TaskRefused(
                    f"{to_user.get_username()} 不属于 {to_unit.name} / is not staff of {to_unit.code}"
                )
            if profile.unit_id:
                unit = profile.unit
        if unit.pk == task.owner_unit_id and (to_user.pk if to_user else None) == task.assignee_id:
            raise TaskRefused("改派前后相同 / the task is already there")
        before = {"owner_unit": task.owner_unit.code, "assignee": task.assignee.get_username() if task.assignee else None}
        task.owner_unit, task.assignee = unit, to_user
        task.save(update_fields=["owner_unit", "assignee"])
        audit_record(
            actor=reassigned_by, verb="task.reassign", obj=task, before=before,
            after={
                "owner_unit": unit.code, "assignee": to_user.get_username() if to_user else None,
                "at": _iso(now), **({"reason": reason} if reason else {}),
            },
        )
    return task


def task_take(*, task: Task, taken_by, now: dt.datetime | None = None) -> Task:
    """领取: staff take a running task of another unit of their city onto their own unit's desk, themselves as
    its assignee — the customer came to them for it (the plan's coaching is at the store or the club).

    Only what the playbook allows: the act's `takeable_by` (in the version of the task's journey) must name
    the kind of the taker's unit, and that unit must be of the task's city and not already own it. A closed
    task, an inactive or unit-less taker and any other act are refused (TaskRefused). Audited with the owner
    and assignee before and after.
    """
    if taken_by is None or not getattr(taken_by, "is_authenticated", False):
        raise TaskRefused("须指明领取人 / taking a task must name who takes it")
    now = now or clock.now()
    with transaction.atomic():
        task = (
            Task.objects.select_for_update(of=("self",))
            .select_related("owner_unit", "assignee", "action", "journey__playbook_version")
            .get(pk=task.pk)
        )
        profile = StaffProfile.objects.select_related("unit").filter(user=taken_by).first()
        if profile is None or not profile.active or not taken_by.is_active:
            raise TaskRefused(f"{taken_by.get_username()} 不是在岗员工 / is not active staff")
        unit = profile.unit
        if unit is None:
            raise TaskRefused(
                f"{taken_by.get_username()} 不属于任何单位，不能领取任务 / belongs to no unit and cannot take tasks"
            )
        if task.status not in RUNNING:
            raise TaskNotOpen(
                f"任务 {task.pk} 已关闭({task.get_status_display()})，不能领取 / task {task.pk} is closed ({task.status})"
            )
        if unit.city_id != task.owner_unit.city_id:
            raise TaskRefused(f"{unit.name} 不属于本地市 / {unit.code} is not a unit of the task's city")
        code = task.action.action_code
        try:
            action = playbook_of(task.journey.playbook_version).action(code)
        except KeyError:
            action = None
        if task.kind != TaskKind.ACT or action is None or unit.kind not in takeable_unit_kinds(action.task):
            name = action.name if action is not None else code
            raise TaskRefused(
                f"{unit.name}不能领取“{name}”任务 {task.pk}（服务方案未允许）/ {unit.code} may not take task "
                f"{task.pk} ({code}): the playbook does not let a {unit.kind} take it"
            )
        if unit.pk == task.owner_unit_id:
            raise TaskRefused(f"任务 {task.pk} 已在{unit.name} / task {task.pk} is already on {unit.code}'s desk")
        before = {"owner_unit": task.owner_unit.code, "assignee": task.assignee.get_username() if task.assignee else None}
        task.owner_unit, task.assignee = unit, taken_by
        task.save(update_fields=["owner_unit", "assignee"])
        audit_record(
            actor=taken_by, verb="task.take", obj=task, before=before,
            after={"owner_unit": unit.code, "assignee": taken_by.get_username(), "at": _iso(now)},
        )
    return task
