"""The Celery application: scheduled jobs (`cycle-daily`, `outbox-dispatch`, `sla-scan`) and the daily cycle's
pieces on worker processes, configured from Django's settings (`CELERY_*`, the broker from
ONBOARD90_BROKER_URL).

Imported only by what runs on the broker — `onboard90 worker`, `onboard90 beat`, and the apps' `tasks`
modules — never by the web app or the in-process runner (`onboard90 run`, `dispatch`), which need no broker.
Making the application connects to nothing; a worker or a task sent does.
"""

from __future__ import annotations

import os

from celery import Celery
from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onboard90.settings")

BROKER_SCHEMES = ("amqp://", "amqps://", "pyamqp://", "redis://", "rediss://")

app = Celery("onboard90")
app.config_from_object("django.conf:settings", namespace="CELERY")
# The apps' `tasks` modules, found through Django's app registry once it is ready.
app.autodiscover_tasks()


def broker_url() -> str:
    """The configured broker, refused with its setting's name when it is not one Celery is set up for here."""
    from django.conf import settings

    url = settings.CELERY_BROKER_URL
    if not url.startswith(BROKER_SCHEMES):
        raise ImproperlyConfigured(
            f"ONBOARD90_BROKER_URL 须为 amqp://… (RabbitMQ) 或 redis://…，现为 {url!r} / ONBOARD90_BROKER_URL must be "
            f"amqp://… (RabbitMQ) or redis://… (Redis), not {url!r}"
        )
    return url
