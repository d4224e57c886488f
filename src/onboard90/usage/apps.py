"""Django app config for `usage`: the customers' daily and monthly usage (用量) and package fit."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UsageConfig(AppConfig):
    name = "onboard90.usage"
    label = "usage"
    verbose_name = _("用量")
