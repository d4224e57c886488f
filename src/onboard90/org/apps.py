"""Django app config for `org`: organisation (组织机构)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrgConfig(AppConfig):
    name = "onboard90.org"
    label = "org"
    verbose_name = _("组织机构")
