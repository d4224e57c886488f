"""`onboard90 worker`: a Celery worker for the scheduled jobs and the daily cycle's pieces, with the project's
settings (the broker from ONBOARD90_BROKER_URL, the queue from ONBOARD90_QUEUE), through Celery's own
programmatic entry point. Start as many as the database can take: each takes one job at a time a process
(prefetch 1) and acknowledges it only once done, so one that dies loses nothing.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.db import connection

from onboard90.core.commands import OnboardCommand
from onboard90.core.management.commands.serve import pending_migrations

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def celery_ready(loglevel: str) -> str:
    """What `worker` and `beat` check before they hand over to Celery: the log level (returned upper-case), a broker
    Celery is set up for, and a database `onboard90 init` has brought up to date. Each refusal is a CommandError."""
    level = loglevel.upper()
    if level not in LEVELS:
        raise CommandError(f"--loglevel 须为 {', '.join(LEVELS)} 之一 / --loglevel must be one of {', '.join(LEVELS)}")
    # Only what uses the broker makes the Celery app (core.celery_app); `onboard90 --help` loads this module.
    from onboard90.core.celery_app import broker_url

    try:
        broker_url()
    except ImproperlyConfigured as exc:
        raise CommandError(str(exc)) from exc
    if pending_migrations():
        raise CommandError("数据库尚未初始化或需要迁移，请先运行 onboard90 init / the database needs `onboard90 init` first")
    return level


def default_concurrency() -> int:
    """PostgreSQL: `ONBOARD90_CYCLE_WORKERS` processes (default 2: the cycle's pieces keep one database core busy
    each). SQLite has one writer at a time: one process, whose pieces run one after another."""
    return settings.ONBOARD90["CYCLE_WORKERS"] if connection.vendor == "postgresql" else 1


class Command(OnboardCommand):
    help = "启动 Celery 工作进程（定时任务与日处理分片）/ start a Celery worker (scheduled jobs, the cycle's pieces)"

    def add_arguments(self, parser):
        parser.add_argument(
            "--concurrency", type=int, default=None,
            help="工作进程数 / worker processes (default: ONBOARD90_CYCLE_WORKERS, 2, on PostgreSQL; 1 on SQLite)",
        )
        parser.add_argument("--loglevel", default="INFO", help=f"日志级别 / log level ({', '.join(LEVELS)})")
        parser.add_argument("--hostname", default=None, help="节点名 / node name (default onboard90@<host>)")

    def handle(self, *args: Any, **options: Any) -> None:
        concurrency = default_concurrency() if options["concurrency"] is None else options["concurrency"]
        if concurrency < 1:
            raise CommandError("--concurrency 须为正数 / --concurrency must be positive")
        level = celery_ready(options["loglevel"])
        # the Celery app: see celery_ready
        from onboard90.core.celery_app import app
        argv = [
            "worker", f"--loglevel={level}", f"--concurrency={concurrency}",
            f"--queues={settings.CELERY_TASK_DEFAULT_QUEUE}", "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        if options["hostname"]:
            argv.append(f"--hostname={options['hostname']}")
        app.worker_main(argv)
