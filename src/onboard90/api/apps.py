"""Django app config for `api`: the REST API (接口) for the operator's other systems."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from onboard90.journeys.signals import (
    acts_moved,
    escalations_created,
    journeys_closed,
    tasks_created,
    tasks_overdue,
)
from onboard90.messaging.signals import messages_failed


class ApiConfig(AppConfig):
    name = "onboard90.api"
    label = "api"
    verbose_name = _("接口")

    def ready(self) -> None:
        # The webhooks' outbox follows what the engine and the SMS outbox report, inside their transactions
        # (api.webhooks); they sit below the API and never import it. dispatch_uid: connected once.
        from onboard90.api import webhooks  # in ready(): it imports the models

        tasks_created.connect(webhooks.on_tasks_created, dispatch_uid="api.webhooks.tasks_created")
        tasks_overdue.connect(webhooks.on_tasks_overdue, dispatch_uid="api.webhooks.tasks_overdue")
        acts_moved.connect(webhooks.on_acts_moved, dispatch_uid="api.webhooks.tasks_completed")
        escalations_created.connect(webhooks.on_escalations_created, dispatch_uid="api.webhooks.escalations")
        journeys_closed.connect(webhooks.on_journeys_closed, dispatch_uid="api.webhooks.journeys")
        messages_failed.connect(webhooks.on_messages_failed, dispatch_uid="api.webhooks.sms_failed")
