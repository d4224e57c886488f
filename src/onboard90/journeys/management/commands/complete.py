"""`onboard90 complete TASK_ID --outcome … [--note …] [--as USER]`: record what happened on a task."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from onboard90.core import clock
from onboard90.core.commands import OnboardCommand
from onboard90.journeys import services
from onboard90.journeys.enums import AttemptOutcome
from onboard90.journeys.models import Task


class Command(OnboardCommand):
    help = "完成任务 / record a task's outcome"

    def add_arguments(self, parser):
        parser.add_argument("task_id", type=int)
        parser.add_argument("--outcome", required=True, choices=AttemptOutcome.values)
        parser.add_argument("--note", default="")
        parser.add_argument("--as", dest="as_user", help="以此员工身份 / act as this staff username")
        parser.add_argument("--at", help="完成时间 / when (default: now), YYYY-MM-DD[ HH:MM]")

    def handle(self, *args, **options):
        task = Task.objects.select_related("owner_unit").filter(pk=options["task_id"]).first()
        if task is None:
            raise CommandError(f"未找到任务 / no task {options['task_id']}")
        user = None
        if options["as_user"]:
            user = get_user_model().objects.filter(username=options["as_user"]).first()
            if user is None:
                raise CommandError(f"未找到员工 / no user {options['as_user']!r}")
            if not services.can_act_on(user=user, task=task):
                raise CommandError(f"{user.get_username()} 无权处理此任务 / may not act on task {task.pk}")
        at = clock.parse_instant(options["at"]) if options["at"] else clock.now()
        task = services.task_complete(task=task, outcome=options["outcome"], note=options["note"], completed_by=user, at=at)
        self.stdout.write(f"任务 {task.pk}: {task.get_status_display()} / {task.status} (尝试 {task.attempts}/{task.max_attempts})")
