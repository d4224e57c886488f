"""`onboard90 run [--date D] [--until D] [--rescan] [--on-workers]`: the daily cycle as of a date, or every day of
a range — in this process (the default, no broker needed), or fanned out over the Celery workers
(`--on-workers`: planned here, its pieces run by `onboard90 worker` processes, waited for here)."""

from __future__ import annotations

import datetime as dt
import functools
import sys
import time

from django.core.management.base import CommandError
from django.db import InterfaceError, OperationalError, connection

from onboard90.core import clock
from onboard90.core.commands import OnboardCommand
from onboard90.core.progress import progress_bar
from onboard90.journeys import cycle
from onboard90.journeys.enums import CycleStatus
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
        parser.add_argument(
            "--on-workers", action="store_true",
            help="分片到 Celery 工作进程运行并等待完成 / fan the cycle out over the Celery workers (onboard90 worker) "
            "and wait for it",
        )
        parser.add_argument(
            "--timeout", type=int, default=3600,
            help="--on-workers 时每天最多等待秒数 / with --on-workers, seconds to wait for each day (default 3600)",
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
        if options["timeout"] < 1:
            raise CommandError("--timeout 须为正数 / --timeout must be positive")
        runner = functools.partial(_on_workers, timeout=options["timeout"]) if options["on_workers"] else cycle.cycle_run
        for day, run in _each(days, rescan=options["rescan"], runner=runner):
            counts = run.counts
            self.stdout.write(
                f"{day.isoformat()} 开启 opened={counts['opened']} 短信 sms_queued={counts['sms_queued']} "
                f"任务 tasks={counts['tasks_created']} 超时 overdue={counts['overdue']} "
                f"升级 escalated={counts['escalated']} 未完成 missed={counts['missed']} "
                f"结束 closed={counts['closed']} 已发送 sent={counts['sms_sent']}"
            )
        if days[-1] == clock.today():
            # The morning's dashboards read ahead, so that no supervisor waits for them (a command may call any app).
            from onboard90.reporting.services import dashboards_refresh

            done = dashboards_refresh(today=days[-1])
            self.stdout.write(f"看板 dashboards={len(done.scopes)} ({done.seconds:.1f} s)")


def _after_last_cycle() -> dt.date | None:
    last = CycleRun.objects.filter(status="finished").order_by("-as_of").first()
    return clock.local_date(last.as_of) + dt.timedelta(days=1) if last else None


def _each(days, *, rescan: bool, runner):
    """Yield (day, run) — with a progress bar when a person is watching, quietly when piped."""
    with progress_bar(enabled=len(days) > 1 and sys.stderr.isatty(), transient=True) as update:
        for done, day in enumerate(days, start=1):
            yield day, runner(as_of=clock.cycle_instant(day), rescan=rescan, figures=day == days[-1])
            update("日处理 / cycles", done, len(days))


def _on_workers(*, as_of: dt.datetime, rescan: bool, figures: bool, timeout: int) -> CycleRun:
    """Plan the cycle here (refused here when another runs), hand its stages to the workers, wait for its end.

    The figures are advanced by every fanned-out cycle (the workers' finish does not know it is one day of a
    range), which costs a range a little more than in one process and gives the same figures."""
    # journeys.tasks makes the Celery app: only --on-workers uses the broker (see core.celery_app)
    from onboard90.journeys.tasks import cycle_stage

    run = cycle.cycle_start(as_of=as_of, rescan=rescan)
    cycle_stage.delay(run_id=run.pk, stage=0)
    deadline = time.monotonic() + timeout
    while run.status == CycleStatus.RUNNING:
        if time.monotonic() > deadline:
            raise CommandError(
                f"日处理 {clock.local_date(as_of)} 在 {timeout} 秒内未完成（工作进程在运行吗？）/ the cycle of "
                f"{clock.local_date(as_of)} did not finish within {timeout}s: are `onboard90 worker` processes running "
                "on this broker and queue?"
            )
        time.sleep(0.2)
        try:
            run.refresh_from_db()
        except (OperationalError, InterfaceError):
            # The database server restarted under the cycle: its pieces retry on their own; ask again on a
            # new connection until the deadline.
            connection.close()
    if run.status != CycleStatus.FINISHED:
        raise CommandError(f"日处理 {clock.local_date(as_of)} 失败 / the cycle of {clock.local_date(as_of)} failed (run {run.pk})")
    return run
