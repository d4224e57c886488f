"""`onboard90 run [--date D] [--until D] [--rescan]`: the daily cycle as of a date, or every day of a range."""

from __future__ import annotations

import datetime as dt
import sys

from django.core.management.base import CommandError

from onboard90.core import clock
from onboard90.core.commands import OnboardCommand
from onboard90.core.progress import progress_bar
from onboard90.journeys import cycle
from onboard90.journeys.models import CycleRun


class Command(OnboardCommand):
    help = "运行日处理 / run the daily cycle (default: today); --until runs every day up to that date"

    def add_arguments(self, parser):
        parser.add_argument("--date", help="业务日期 / as-of date YYYY-MM-DD (default: today)")
        parser.add_argument(
            "--until",
            help="运行到此日期(含) / run every day through this date; starts at --date, else the day after the last cycle",
        )
        parser.add_argument(
            "--rescan", action="store_true",
            help="全量检查 / look at every journey, not only what changed since the last cycle "
            "(after the database was edited outside onboard90)",
        )

    def handle(self, *args, **options):
        start = clock.parse_date(options["date"]) if options["date"] else None
        until = clock.parse_date(options["until"]) if options["until"] else None
        if until is None:
            days = [start or clock.today()]
        else:
            start = start or _after_last_cycle() or until
            if start > until:
                raise CommandError(f"开始日期晚于结束日期 / start {start} is after --until {until}")
            days = [start + dt.timedelta(days=i) for i in range((until - start).days + 1)]
        if days[-1] > clock.today():  # refused before any day runs, not after the ones up to today
            raise CommandError(
                f"不能提前运行日处理：{days[-1]} 晚于今天 {clock.today()} / the daily cycle cannot run ahead of time: "
                f"{days[-1]} is after today ({clock.today()})"
            )
        for day, run in _each(days, rescan=options["rescan"]):
            counts = run.counts
            self.stdout.write(
                f"{day.isoformat()} 开启 opened={counts['opened']} 短信 sms_queued={counts['sms_queued']} "
                f"任务 tasks={counts['tasks_created']} 超时 overdue={counts['overdue']} "
                f"升级 escalated={counts['escalated']} 未完成 missed={counts['missed']} "
                f"结束 closed={counts['closed']} 已发送 sent={counts['sms_sent']}"
            )


def _after_last_cycle() -> dt.date | None:
    last = CycleRun.objects.filter(status="finished").order_by("-as_of").first()
    return clock.local_date(last.as_of) + dt.timedelta(days=1) if last else None


def _each(days, *, rescan: bool):
    """Yield (day, run) — with a progress bar when a person is watching, quietly when piped."""
    with progress_bar(enabled=len(days) > 1 and sys.stderr.isatty(), transient=True) as update:
        for done, day in enumerate(days, start=1):
            yield day, cycle.cycle_run(as_of=clock.cycle_instant(day), rescan=rescan, figures=day == days[-1])
            update("日处理 / cycles", done, len(days))
