"""URL map: the admin, the SMS gateway's callbacks, the REST API and the web app."""

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

# The admin's pages, imported here rather than as each process starts (`core.apps.AdminConfig`).
admin.autodiscover()
admin.site.site_header = _("onboard90 管理后台")
admin.site.site_title = _("onboard90 管理后台")
admin.site.index_title = _("省公司管理")

urlpatterns = [
    path("admin/", admin.site.urls),
    # Kannel's delivery reports and handsets' replies: kannel.DLR_PATH and MO_PATH (messaging.urls).
    path("sms/kannel/", include("onboard90.messaging.urls")),
    # The REST API for the operator's other systems, its schema and docs page (onboard90.api).
    path("api/v1/", include("onboard90.api.urls")),
    path("", include("onboard90.web.urls")),
]
