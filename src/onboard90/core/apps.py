"""Django app config for `core`: core (基础设施)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "onboard90.core"
    label = "core"
    verbose_name = _("基础设施")
