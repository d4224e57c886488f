"""Django app config for `api`: the REST API (接口) for the operator's other systems."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "onboard90.api"
    label = "api"
    verbose_name = _("接口")
