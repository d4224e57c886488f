"""Django app config for `web`: web (网页)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebConfig(AppConfig):
    name = "onboard90.web"
    label = "web"
    verbose_name = _("网页")
