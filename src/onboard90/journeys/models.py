"""The engine's state: a journey per subscriber, its actions (one row per opened act), tasks, escalations."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from onboard90.core.fields import RecordedAt
from onboard90.journeys.enums import (
    ActionStatus,
    AttemptOutcome,
    CycleStatus,
    JourneyStatus,
    TaskKind,
)

# The references of the rows the daily cycle writes in bulk (acts, tasks, escalations, SMS) are not foreign
# keys in the database. Every such row is inserted by an INSERT … SELECT from the rows it refers to, in the
# transaction that read them, and its references are never rewritten by hand; a deferred per-row check at
# each commit only re-read what that statement had just read (about 3 s of a 1M-journey cycle on
# PostgreSQL, a sixth of it). Django still cascades or refuses deletes along them, and
# `journeys.selectors.dangling_references` (`onboard90 integrity`) shows that none points nowhere. The contact
# attempts are checked with them: their task is a row of a partitioned table on PostgreSQL (docs/SCALING.md).
ENGINE_WRITTEN = (
    "journeys.JourneyAction", "journeys.Task", "journeys.Escalation", "messaging.OutboxMessage", "journeys.TaskAttempt",
)


class Journey(models.Model):
    """导入期旅程: one subscriber's 90 days, on the playbook version it started with."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="journey", verbose_name=_("客户")
    )
    playbook_version = models.ForeignKey(
        "playbook.PlaybookVersion", on_delete=models.PROTECT, related_name="+", verbose_name=_("服务方案版本")
    )
    status = models.CharField(_("状态"), max_length=16, choices=JourneyStatus.choices, default=JourneyStatus.ACTIVE)
    started_at = models.DateTimeField(_("开始时间"))
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    created_at = RecordedAt(_("创建时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("导入期旅程")
        verbose_name_plural = _("导入期旅程")
        indexes = [models.Index(fields=["status", "playbook_version"])]

    def __str__(self) -> str:
        return f"{self.customer} {self.get_status_display()}"


class JourneyAction(models.Model):
    """One mandated act (规定动作) opened for one journey: its window, owner and outcome."""

    # No index of its own: the unique (journey, action_code, occurrence) key starts with it. Not checked
    # by the database either (see ENGINE_WRITTEN below): the cycle writes every row from the journey it
    # has just read, and Django cascades a journey's deletion.
    journey = models.ForeignKey(
        Journey, on_delete=models.CASCADE, related_name="actions", verbose_name=_("导入期旅程"), db_index=False,
        db_constraint=False,
    )
    # The customer's id, copied from the journey in the statement that writes the row: the key PostgreSQL
    # partitions these rows by and Citus would distribute them by (docs/SCALING.md), so every unique key holds it.
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.DO_NOTHING, related_name="+", verbose_name=_("客户"),
        db_index=False, db_constraint=False,
    )
    action_code = models.CharField(_("动作"), max_length=48)
    occurrence = models.PositiveSmallIntegerField(_("次序"), default=0)
    stage = models.PositiveSmallIntegerField(_("阶段"))
    status = models.CharField(_("状态"), max_length=16, choices=ActionStatus.choices)
    # Rows recorded for acts that never opened (not_applicable / cancelled at close) have no window.
    window_start = models.DateField(_("窗口开始"), null=True, blank=True)
    window_end = models.DateField(_("窗口结束"), null=True, blank=True)
    due_at = models.DateTimeField(_("截止时间"), null=True, blank=True)
    opened_at = models.DateTimeField(_("开启时间"))
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    reason = models.CharField(_("说明"), max_length=128, blank=True)

    class Meta:
        verbose_name = _("服务动作")
        verbose_name_plural = _("服务动作")
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "action_code", "occurrence", "customer"], name="journeys_action_once_per_journey"
            )
        ]
        indexes = [
            # Then id: a cycle finds the acts it has just opened of one code as a range of this index. The due
            # time last: the running acts per (code, due time), which the dashboard's cells check each cycle,
            # are counted from the index alone.
            models.Index(fields=["action_code", "status", "id", "due_at"], name="journeys_action_code_status"),
            # The acts of one act code and due time — the dashboard's cells (reporting.FigureCell) recount the
            # ones a day's work touched by it, rather than every act on file.
            models.Index(fields=["action_code", "due_at"], name="journeys_action_code_due"),
            # No (status, window_end) index: no query reads acts by status alone (the report reads nearly
            # every act), and each of a day's ~180k new acts and status changes paid for it.
        ]

    def __str__(self) -> str:
        return f"{self.action_code} {self.get_status_display()}"


class Task(models.Model):
    """A piece of human work on someone's worklist, created when an action with a staff delivery opens."""

    action = models.OneToOneField(
        JourneyAction, on_delete=models.CASCADE, related_name="task", verbose_name=_("服务动作"), db_constraint=False
    )
    # A copy of action.journey, for the worklists' joins, written from it in the same statement.
    journey = models.ForeignKey(
        Journey, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("导入期旅程"), db_constraint=False
    )
    # The customer's id, copied from the act (see JourneyAction.customer).
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.DO_NOTHING, related_name="+", verbose_name=_("客户"),
        db_index=False, db_constraint=False,
    )
    kind = models.CharField(_("类型"), max_length=32, choices=TaskKind.choices, default=TaskKind.ACT)
    # owner_unit and assignee have no index of their own: the (owner_unit, status) and (assignee, status)
    # worklist indexes start with them, and every insert would pay for the duplicates.
    owner_unit = models.ForeignKey(
        "org.Unit", on_delete=models.PROTECT, related_name="tasks", verbose_name=_("责任单位"), db_index=False,
        db_constraint=False,
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks",
        verbose_name=_("负责人"), db_index=False, db_constraint=False,
    )
    status = models.CharField(_("状态"), max_length=16, choices=ActionStatus.choices, default=ActionStatus.OPEN)
    due_at = models.DateTimeField(_("截止时间"))
    created_at = models.DateTimeField(_("创建时间"))
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    max_attempts = models.PositiveSmallIntegerField(_("最多尝试"), default=1)
    outcome = models.CharField(_("结果"), max_length=16, choices=AttemptOutcome.choices, blank=True)
    note = models.TextField(_("备注"), blank=True)
    checklist = models.JSONField(_("核对清单"), default=dict, blank=True)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("完成人"), db_index=False,  # indexed below where set
    )
    # `completed_at` is the time the work is claimed to have happened; this is the real instant the
    # completion was entered. The two may differ by the grace (a paper sheet of yesterday's counter, see
    # settings.ONBOARD90["COMPLETION_GRACE_HOURS"]); beyond it the completion is `backdated`: only a
    # supervisor may enter it, with a reason, and the compliance report counts it apart from on-time work.
    completion_entered_at = models.DateTimeField(_("录入时间"), null=True, blank=True)
    # Database defaults: the cycle inserts tasks by INSERT … SELECT, naming only the columns it fills.
    backdated = models.BooleanField(_("补录"), default=False, db_default=False)
    completion_reason = models.CharField(_("补录/更正原因"), max_length=255, blank=True, db_default="")
    # Set when a supervisor corrected a closed outcome (`task_correct`); the first record stays in the
    # attempt log and the audit log.
    corrected_at = models.DateTimeField(_("更正时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("任务")
        verbose_name_plural = _("任务")
        indexes = [
            models.Index(fields=["status", "due_at"]),
            models.Index(fields=["owner_unit", "status"]),
            # A person's tasks, and the tasks a person closed. Partial: most tasks have no assignee (only the
            # account managers' are given one) and none closed when the cycle writes them, and an index entry
            # for each of those would be paid for by every task written and every status it moves through.
            models.Index(
                fields=["assignee", "status"], condition=models.Q(assignee__isnull=False),
                name="journeys_task_assignee_status",
            ),
            models.Index(
                fields=["completed_by"], condition=models.Q(completed_by__isnull=False), name="journeys_task_completed_by"
            ),
            # The worklists read running tasks soonest due first, a page at a time: a supervisor's city or the
            # province in due order, a unit's in due order. Partial, so they hold only the running tasks (a
            # tenth of all) and a closed task leaves them.
            models.Index(
                fields=["due_at", "id"], condition=models.Q(status__in=["open", "overdue"]), name="journeys_task_running_due"
            ),
            models.Index(
                fields=["owner_unit", "due_at", "id"], condition=models.Q(status__in=["open", "overdue"]),
                name="journeys_task_unit_running_due",
            ),
        ]

    def __str__(self) -> str:
        return f"任务 {self.pk} {self.get_status_display()}"


class TaskAttempt(models.Model):
    """One contact attempt on a task (a call that was answered, not answered, busy…)."""

    # Not checked by the database: on PostgreSQL the task table is partitioned, and a foreign key to it would
    # have to name the partition key too (docs/SCALING.md).
    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, related_name="attempt_log", verbose_name=_("任务"), db_constraint=False
    )
    at = models.DateTimeField(_("时间"))
    outcome = models.CharField(_("结果"), max_length=16, choices=AttemptOutcome.choices)
    note = models.TextField(_("备注"), blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("联系人"),
    )

    class Meta:
        verbose_name = _("联系记录")
        verbose_name_plural = _("联系记录")
        ordering = ["at", "id"]


class Escalation(models.Model):
    """升级: an overdue (or unassignable) task put before the supervisor of the unit that owns it."""

    task = models.OneToOneField(
        Task, on_delete=models.CASCADE, related_name="escalation", verbose_name=_("任务"), db_constraint=False
    )
    # The customer's id, copied from the task (see JourneyAction.customer).
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.DO_NOTHING, related_name="+", verbose_name=_("客户"),
        db_index=False, db_constraint=False,
    )
    at = models.DateTimeField(_("时间"))
    unit = models.ForeignKey(
        "org.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("责任单位"), db_constraint=False
    )
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="escalations",
        verbose_name=_("主管"), db_constraint=False,
    )
    reason = models.CharField(_("原因"), max_length=64)
    # The supervisor's receipt (已确认): who saw it, when, and what they did about it. The cycle inserts
    # escalations naming only the columns above, hence the database default on the note.
    acknowledged_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("确认人"),
    )
    note = models.CharField(_("处理说明"), max_length=255, blank=True, db_default="")

    class Meta:
        verbose_name = _("升级记录")
        verbose_name_plural = _("升级记录")
        indexes = [
            # The supervisor's list, oldest first within the units of a city, and the dashboard's counts of
            # a date range per unit.
            models.Index(fields=["unit", "at"], name="journeys_escalation_unit_at"),
        ]


class CycleRun(models.Model):
    """A record of one daily cycle: when it ran, as of when, and what it did."""

    as_of = models.DateTimeField(_("业务时间"), db_index=True)
    started_at = models.DateTimeField(_("开始"))
    finished_at = models.DateTimeField(_("结束"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=CycleStatus.choices, default=CycleStatus.RUNNING)
    counts = models.JSONField(_("计数"), default=dict, blank=True)
    # changes.facts_digest at the start: the next cycle looks only at what changed unless this differs.
    digest = models.CharField(_("数据指纹"), max_length=64, blank=True)
    # Fanned out over Celery workers (the pieces run in other processes, none of which holds the cycle lock
    # throughout): such a run still `running` is alive while its pieces move (`CyclePiece.finished_at`).
    on_workers = models.BooleanField(_("分布式运行"), default=False)
    # On workers: the stage whose pieces are running. Moved on once, by the first piece to find its stage all
    # done (`cycle.stage_advance`), however often a piece is delivered.
    stage = models.PositiveIntegerField(_("阶段"), default=0)

    class Meta:
        verbose_name = _("日处理记录")
        verbose_name_plural = _("日处理记录")
        ordering = ["-as_of", "-id"]


class CyclePiece(models.Model):
    """One piece of a daily cycle's per-journey work (a window group of one playbook version: `cycle.Piece`),
    planned when the cycle starts and recorded done in the transaction of its own writes.

    The pieces of a stage are independent; a stage waits for the one before (`cycle.waits`). A piece that is
    run again (a worker died after its commit, a redelivered message) finds its row done and returns the counts
    it recorded, so a cycle's counts are a clean run's whatever was retried.
    """

    # Not checked by the database: the demo's reset deletes cycle records in bulk SQL, and the pieces of a run
    # gone are deleted by the next cycle's prune (`cycle.pieces_prune`), as are those of runs long finished.
    run = models.ForeignKey(
        CycleRun, on_delete=models.CASCADE, db_constraint=False, related_name="pieces", verbose_name=_("日处理")
    )
    name = models.CharField(_("名称"), max_length=64)
    position = models.PositiveIntegerField(_("顺序"))  # the order one process runs them in
    stage = models.PositiveIntegerField(_("阶段"))  # on workers: the stages run one after another
    # What the piece reads besides the run: the delta's day and the act ids it must look at again
    # (`changes.Since`, `changes.changed_running_acts`), as the plan found them.
    plan = models.JSONField(_("计划"), default=dict, blank=True)
    counts = models.JSONField(_("计数"), default=dict, blank=True)
    finished_at = models.DateTimeField(_("完成"), null=True, blank=True)

    class Meta:
        verbose_name = _("日处理分片")
        verbose_name_plural = _("日处理分片")
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="journeys_cyclepiece_run_name")]
