"""Django app config for `reporting`: the management dashboard's precomputed figures (管理看板)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportingConfig(AppConfig):
    name = "onboard90.reporting"
    label = "reporting"
    verbose_name = _("管理看板")
