"""`onboard90 complete TASK_ID --outcome … --as USER [--at …] [--reason …] [--note …]`: record a task's outcome."""

from __future__ import annotations

from django.core.management.base import CommandError

from onboard90.core import clock
from onboard90.core.commands import OnboardCommand
from onboard90.journeys import services
from onboard90.journeys.enums import AttemptOutcome
from onboard90.journeys.management.commands._task_args import staff_user, task_or_error


class Command(OnboardCommand):
    help = "完成任务 / record a task's outcome"

    def add_arguments(self, parser):
        parser.add_argument("task_id", type=int)
        parser.add_argument("--outcome", required=True, choices=AttemptOutcome.values)
        parser.add_argument(
            "--as", dest="as_user", required=True,
            help="完成人（员工或系统账号）/ who did it: a staff username or a feed's system account",
        )
        parser.add_argument(
            "--at", help="完成时间 / when it happened (default: now), YYYY-MM-DD[ HH:MM]; not before the task "
            "existed, not in the future; older than the grace it is backdated (supervisor, with --reason)",
        )
        parser.add_argument("--reason", default="", help="补录原因 / why a backdated completion is entered late")
        parser.add_argument("--note", default="")

    def handle(self, *args, **options):
        task = task_or_error(options["task_id"])
        user = staff_user(options["as_user"])
        at = clock.parse_instant(options["at"]) if options["at"] else None
        try:
            task = services.task_complete(
                task=task, outcome=options["outcome"], note=options["note"], completed_by=user, at=at,
                reason=options["reason"],
            )
        except services.TaskRefused as exc:
            raise CommandError(str(exc)) from exc
        marked = "（补录 / backdated）" if task.backdated else ""
        self.stdout.write(
            f"任务 {task.pk}: {task.get_status_display()} / {task.status}{marked} (尝试 {task.attempts}/{task.max_attempts})"
        )
