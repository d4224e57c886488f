"""`onboard90 beat`: Celery beat with the project's settings, sending the scheduled jobs (`cycle-daily`,
`outbox-dispatch`, `sla-scan`, `partitions-ahead`: `journeys.schedules`, editable in the admin) to the workers. Run exactly one
per installation: each would send every job.
"""

from __future__ import annotations

from typing import Any

from onboard90.core.commands import OnboardCommand
from onboard90.core.management.commands.worker import LEVELS, celery_ready
from onboard90.installation import install_schedules


class Command(OnboardCommand):
    help = "启动定时调度（Celery beat，每个部署一个）/ start the scheduler (Celery beat; one per installation)"

    def add_arguments(self, parser):
        parser.add_argument("--loglevel", default="INFO", help=f"日志级别 / log level ({', '.join(LEVELS)})")

    def handle(self, *args: Any, **options: Any) -> None:
        level = celery_ready(options["loglevel"])
        # Only what uses the broker makes the Celery app (core.celery_app); `onboard90 --help` loads this module.
        from onboard90.core.celery_app import app

        install_schedules()  # a database made before the schedules existed gets them here
        app.start(["beat", f"--loglevel={level}", "--scheduler=django_celery_beat.schedulers:DatabaseScheduler"])
