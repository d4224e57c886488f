"""`onboard90 beat`: Celery beat with the project's settings, sending the scheduled jobs (`cycle-daily`,
`outbox-dispatch`, `sla-scan`: `journeys.schedules`, editable in the admin) to the workers. Run exactly one
per installation: each would send every job.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError

from onboard90.core.commands import OnboardCommand
from onboard90.core.management.commands.worker import LEVELS


class Command(OnboardCommand):
    help = "启动定时调度（Celery beat，每个部署一个）/ start the scheduler (Celery beat; one per installation)"

    def add_arguments(self, parser):
        parser.add_argument("--loglevel", default="INFO", help=f"日志级别 / log level ({', '.join(LEVELS)})")

    def handle(self, *args: Any, **options: Any) -> None:
        level = options["loglevel"].upper()
        if level not in LEVELS:
            raise CommandError(f"--loglevel 须为 {', '.join(LEVELS)} 之一 / --loglevel must be one of {', '.join(LEVELS)}")
        from onboard90.core.celery_app import app, broker_url
        from onboard90.core.management.commands.serve import pending_migrations
        from onboard90.installation import install_schedules

        try:
            broker_url()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        if pending_migrations():
            raise CommandError("数据库尚未初始化或需要迁移，请先运行 onboard90 init / the database needs `onboard90 init` first")
        install_schedules()  # a database made before the schedules existed gets them here
        app.start(["beat", f"--loglevel={level}", "--scheduler=django_celery_beat.schedulers:DatabaseScheduler"])
