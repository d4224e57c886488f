"""What the task commands (`complete`, `correct`) read from their arguments, refused with a clear message."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from onboard90.journeys.models import Task


def task_or_error(task_id: int) -> Task:
    task = Task.objects.select_related("owner_unit").filter(pk=task_id).first()
    if task is None:
        raise CommandError(f"未找到任务 / no task {task_id}")
    return task


def staff_user(username: str):
    user = get_user_model().objects.select_related("staff").filter(username=username).first()
    if user is None:
        raise CommandError(f"未找到员工 / no user {username!r} (`onboard90 staff list` shows who exists)")
    if not user.is_active:
        raise CommandError(f"账号已停用 / user {username!r} is deactivated")
    return user
