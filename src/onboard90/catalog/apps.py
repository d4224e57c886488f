"""Django app config for `catalog`: catalogue (产品目录)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "onboard90.catalog"
    label = "catalog"
    verbose_name = _("产品目录")
