"""Django app config for `guide`: the service-guide booklet (《3G客户常用服务指南》)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GuideConfig(AppConfig):
    name = "onboard90.guide"
    label = "guide"
    verbose_name = _("服务指南")
