"""Kannel's callbacks, included under CALLBACK_PREFIX by the project's URL map: the paths are kannel.DLR_PATH
and kannel.MO_PATH, the ones the gateway puts on each message and Kannel's sms-service calls."""

from django.urls import path

from onboard90.messaging import views
from onboard90.messaging.kannel import DLR_PATH, MO_PATH

# Where onboard90.urls includes this module (without its leading slash there).
CALLBACK_PREFIX = "/sms/kannel/"

app_name = "messaging"
urlpatterns = [
    path(DLR_PATH.removeprefix(CALLBACK_PREFIX), views.kannel_dlr, name="kannel-dlr"),
    path(MO_PATH.removeprefix(CALLBACK_PREFIX), views.kannel_mo, name="kannel-mo"),
]
