"""`onboard90 correct TASK_ID --outcome … --reason … --as SUPERVISOR [--at …]`: correct a closed outcome."""

from __future__ import annotations

from django.core.management.base import CommandError

from onboard90.core import clock
from onboard90.core.commands import OnboardCommand
from onboard90.journeys import services
from onboard90.journeys.enums import AttemptOutcome
from onboard90.journeys.management.commands._task_args import staff_user, task_or_error


class Command(OnboardCommand):
    help = "更正已关闭任务的结果（地市主管）/ correct a closed task's outcome (city supervisor; the first record is kept)"

    def add_arguments(self, parser):
        parser.add_argument("task_id", type=int)
        parser.add_argument("--outcome", required=True, choices=AttemptOutcome.values)
        parser.add_argument("--reason", required=True, help="更正原因 / why the first record was wrong")
        parser.add_argument("--as", dest="as_user", required=True, help="地市主管账号 / the supervisor's username")
        parser.add_argument("--at", help="实际发生时间 / when it really happened (default: the first record's time)")

    def handle(self, *args, **options):
        task = task_or_error(options["task_id"])
        user = staff_user(options["as_user"])
        at = clock.parse_instant(options["at"]) if options["at"] else None
        try:
            task = services.task_correct(
                task=task, outcome=options["outcome"], reason=options["reason"], corrected_by=user, at=at
            )
        except services.TaskRefused as exc:
            raise CommandError(str(exc)) from exc
        marked = "（补录 / backdated）" if task.backdated else ""
        self.stdout.write(f"任务 {task.pk} 已更正 / corrected: {task.get_status_display()} / {task.status}{marked}")
