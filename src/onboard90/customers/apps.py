"""Django app config for `customers`: customers (客户)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "onboard90.customers"
    label = "customers"
    verbose_name = _("客户")
