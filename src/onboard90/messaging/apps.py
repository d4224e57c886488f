"""Django app config for `messaging`: messaging (短信)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "onboard90.messaging"
    label = "messaging"
    verbose_name = _("短信")
