"""Django app config for `demo`: a synthetic province to see the system at work (演示)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    name = "onboard90.demo"
    label = "demo"
    verbose_name = _("演示")
