"""Django app config for `core`: core (基础设施); and the admin's, which imports its pages when first needed."""

from django.apps import AppConfig
from django.contrib.admin import autodiscover
from django.contrib.admin.apps import SimpleAdminConfig
from django.contrib.admin.checks import check_admin_app, check_dependencies
from django.core import checks
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "onboard90.core"
    label = "core"
    verbose_name = _("基础设施")


class AdminConfig(SimpleAdminConfig):
    """Django's admin (settings.INSTALLED_APPS names it here), with every app's `admin` module imported when the
    admin is first needed — by the URL map (`onboard90.urls`) and by the system checks — not as each process
    starts. Those modules bring in the playbook editor's schema and the customers' services: a command or a
    worker that never shows an admin page started 0.4 s slower for them."""

    def ready(self) -> None:
        checks.register(check_dependencies, checks.Tags.admin)
        checks.register(_admin_pages_checked, checks.Tags.admin)


def _admin_pages_checked(app_configs, **kwargs):
    """Django's checks of the admin's pages, once they are imported (the checks may run before the URL map)."""
    autodiscover()
    return check_admin_app(app_configs, **kwargs)
