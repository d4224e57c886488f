"""Journey, action and task states (see DESIGN.md "The engine, precisely")."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class JourneyStatus(models.TextChoices):
    ACTIVE = "active", _("进行中")
    COMPLETED = "completed", _("已完成")
    EXITED = "exited", _("已退出")


class ActionStatus(models.TextChoices):
    # running
    PENDING = "pending", _("待开始")  # never stored: an applicable action not yet opened
    OPEN = "open", _("进行中")
    OVERDUE = "overdue", _("已超时")
    # outcomes
    DONE = "done", _("按时完成")
    DONE_LATE = "done_late", _("超时完成")
    MISSED = "missed", _("未完成")
    NOT_APPLICABLE = "not_applicable", _("不适用")
    SUPERSEDED = "superseded", _("已被替代")
    CANCELLED = "cancelled", _("已取消")


RUNNING = (ActionStatus.OPEN, ActionStatus.OVERDUE)
OUTCOMES = (
    ActionStatus.DONE,
    ActionStatus.DONE_LATE,
    ActionStatus.MISSED,
    ActionStatus.NOT_APPLICABLE,
    ActionStatus.SUPERSEDED,
    ActionStatus.CANCELLED,
)


class TaskKind(models.TextChoices):
    ACT = "act", _("服务动作")
    MANUAL_ASSIGNMENT = "manual_assignment", _("人工分配客户经理")


class AttemptOutcome(models.TextChoices):
    REACHED = "reached", _("已联系")
    NO_ANSWER = "no_answer", _("无人接听")
    BUSY = "busy", _("占线")
    WRONG_NUMBER = "wrong_number", _("号码错误")
    REFUSED = "refused", _("客户拒绝")


RETRYABLE = (AttemptOutcome.NO_ANSWER, AttemptOutcome.BUSY)


class CycleStatus(models.TextChoices):
    RUNNING = "running", _("运行中")
    FINISHED = "finished", _("已完成")
    FAILED = "failed", _("失败")
