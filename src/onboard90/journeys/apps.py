"""Django app config for `journeys`: journeys (导入期旅程)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JourneysConfig(AppConfig):
    name = "onboard90.journeys"
    label = "journeys"
    verbose_name = _("导入期旅程")
