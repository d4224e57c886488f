"""Django app config for `playbook`: playbook (服务方案)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlaybookConfig(AppConfig):
    name = "onboard90.playbook"
    label = "playbook"
    verbose_name = _("服务方案")
