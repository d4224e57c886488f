"""Django app config for `journeys`: journeys (导入期旅程)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from onboard90.customers.signals import customers_joined, customers_left
from onboard90.messaging.signals import messages_settled, reply_received


class JourneysConfig(AppConfig):
    name = "onboard90.journeys"
    label = "journeys"
    verbose_name = _("导入期旅程")

    def ready(self) -> None:
        # The engine follows what the customers and the outbox report (journeys.flows), and answers the replies
        # the outbox receives; they sit below it and never import it. dispatch_uid: connected once however often
        # ready() runs.
        from onboard90.journeys import flows  # in ready(): it imports the models

        customers_joined.connect(flows.start_journeys_of_new_customers, dispatch_uid="journeys.start")
        customers_left.connect(flows.exit_journeys_of_leavers, dispatch_uid="journeys.exit")
        messages_settled.connect(flows.record_acts_delivered_by_sms, dispatch_uid="journeys.sms_acts")
        reply_received.connect(flows.answer_reply, dispatch_uid="journeys.replies")
