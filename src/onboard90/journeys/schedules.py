"""The named schedules of the jobs on Celery workers (django-celery-beat's rows, editable in the admin under
"Periodic tasks"): `cycle-daily`, `outbox-dispatch`, `sla-scan`, `partitions-ahead`. `onboard90 init` creates the missing ones and
leaves those on file as an operator left them (times changed, a job switched off)."""

from __future__ import annotations

import json

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask


def _schedules() -> list[dict]:
    hour = settings.ONBOARD90["CYCLE_HOUR"]
    return [
        # 日处理 at the cycle hour, local time (the task takes today's date when it runs).
        {"name": "cycle-daily", "task": "onboard90.cycle_daily", "crontab": {"minute": "0", "hour": str(hour)},
         "description": "日处理：按配置时刻运行当天的日处理（分片到各工作进程） / the daily cycle of the day, fanned out"},
        # 发送 every minute; outside the playbook's sending hours a pass sends nothing.
        {"name": "outbox-dispatch", "task": "onboard90.outbox_dispatch", "every_seconds": 60,
         "description": "发送到期短信（发送时段与每日上限内） / send the SMS that are due, within the sending policy"},
        # 超时扫描 at half past every hour: a task due at 23:59:59 is overdue and escalated before the next cycle.
        {"name": "sla-scan", "task": "onboard90.sla_scan", "crontab": {"minute": "30", "hour": "*"},
         "description": "超时与升级扫描（两次日处理之间） / overdue and escalations between cycles"},
        # 分区 at 01:10: PostgreSQL's next ranges of customer ids, before the morning's new customers arrive.
        {"name": "partitions-ahead", "task": "onboard90.partitions_ahead", "crontab": {"minute": "10", "hour": "1"},
         "description": "按客户编号建好后续分区（PostgreSQL） / the next partitions of the act, task and message rows"},
    ]  # fmt: skip


def schedules_install() -> dict[str, int]:
    """Create the named schedules that are missing; {"created", "unchanged"}. Idempotent, never overwrites."""
    created = unchanged = 0
    with transaction.atomic():
        for spec in _schedules():
            if PeriodicTask.objects.filter(name=spec["name"]).exists():
                unchanged += 1
                continue
            timing: dict = {}
            if "crontab" in spec:
                timing["crontab"], _ = CrontabSchedule.objects.get_or_create(
                    **spec["crontab"], day_of_week="*", day_of_month="*", month_of_year="*", timezone=settings.TIME_ZONE
                )
            else:
                timing["interval"], _ = IntervalSchedule.objects.get_or_create(
                    every=spec["every_seconds"], period=IntervalSchedule.SECONDS
                )
            PeriodicTask.objects.create(
                name=spec["name"], task=spec["task"], description=spec["description"], args=json.dumps([]),
                kwargs=json.dumps({}), **timing,
            )  # fmt: skip
            created += 1
    return {"created": created, "unchanged": unchanged}
