"""The Celery application: scheduled jobs (`cycle-daily`, `outbox-dispatch`, `sla-scan`, `partitions-ahead`) and the daily cycle's
pieces on worker processes, configured from Django's settings (`CELERY_*`, the broker from
ONBOARD90_BROKER_URL).

Imported only by what runs on the broker — `onboard90 worker`, `onboard90 beat`, and the apps' `tasks`
modules — never by the web app or the in-process runner (`onboard90 run`, `dispatch`), which need no broker.
Making the application connects to nothing; a worker or a task sent does.
"""

from __future__ import annotations

import contextlib
import logging.config
import os

from celery import Celery, Task, signals
from django import db
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from onboard90.core.logs import with_root_logger

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onboard90.settings")

BROKER_SCHEMES = ("amqp://", "amqps://", "pyamqp://", "redis://", "rediss://")


class Job(Task):
    """Every job of the application. One that raised closes a database connection it left unusable (the server
    restarted under it), before Celery writes down the retry or the failure in the result store, which is that
    same database: on the dead connection that write failed, and Celery took its failure for the job's own."""

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except BaseException:
            for connection in db.connections.all(initialized_only=True):
                if not connection.in_atomic_block:  # a caller's transaction (a test's) is the caller's to end
                    with contextlib.suppress(Exception):
                        connection.close_if_unusable_or_obsolete()
            raise


app = Celery("onboard90", task_cls=Job)
app.config_from_object("django.conf:settings", namespace="CELERY")
# The apps' `tasks` modules, found through Django's app registry once it is ready.
app.autodiscover_tasks()


@signals.setup_logging.connect
def _logging_as_configured(loglevel=None, **kwargs) -> None:
    """The worker's and beat's logs in the project's format (ONBOARD90_LOG_FORMAT), Celery's own lines included.

    Left alone, Celery empties the root logger and puts its own text format there (`worker_hijack_root_logger`);
    a receiver of this signal takes the setting up instead. Celery's loggers reach the root logger at the
    command's `--loglevel`; the project's keep ONBOARD90_LOG_LEVEL, as in every other process.
    """
    logging.config.dictConfig(with_root_logger(settings.LOGGING, level=loglevel or "INFO"))


def broker_url() -> str:
    """The configured broker, refused with its setting's name when it is not one Celery is set up for here."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(BROKER_SCHEMES):
        raise ImproperlyConfigured(
            f"ONBOARD90_BROKER_URL 须为 amqp://… (RabbitMQ) 或 redis://…，现为 {url!r} / ONBOARD90_BROKER_URL must be "
            f"amqp://… (RabbitMQ) or redis://… (Redis), not {url!r}"
        )
    return url
