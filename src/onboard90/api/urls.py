"""`/api/v1/`: the API's routes, its OpenAPI schema and the docs page (Swagger UI from the sidecar package)."""

from django.urls import path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from onboard90.api import docs, views


class RecordId:
    """A record's id in a path: any integer the schema allows (negative, or beyond any id on file) reaches the
    view and is a JSON 404 there, not the web's HTML page for a path that does not match."""

    regex = r"-?[0-9]{1,30}"

    def to_python(self, value: str) -> int:
        number = int(value)
        return number if 0 < number < 2**63 else 0  # no record has id 0

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(RecordId, "id")

urlpatterns = [
    path("events", views.EventsView.as_view(), name="api-events"),
    path("customers", views.CustomersView.as_view(), name="api-customers"),
    path("customers/<str:msisdn>", views.CustomerView.as_view(), name="api-customer"),
    path(
        "customers/<str:msisdn>/messages", views.CustomerMessagesView.as_view(), name="api-customer-messages"
    ),
    path("customers/<str:msisdn>/opt-out", views.CustomerOptOutView.as_view(), name="api-customer-opt-out"),
    path("journeys/<id:journey_id>", views.JourneyView.as_view(), name="api-journey"),
    path("tasks", views.TasksView.as_view(), name="api-tasks"),
    path("tasks/<id:task_id>/complete", views.TaskCompleteView.as_view(), name="api-task-complete"),
    path("tasks/<id:task_id>/reassign", views.TaskReassignView.as_view(), name="api-task-reassign"),
    path(
        "escalations/<id:escalation_id>/acknowledge",
        views.EscalationAcknowledgeView.as_view(),
        name="api-escalation-acknowledge",
    ),
    path("reports/compliance", views.ComplianceView.as_view(), name="api-compliance"),
    path("playbook/versions", views.PlaybookVersionsView.as_view(), name="api-playbook-versions"),
    # Public, so that an integrator reads them before holding a key: they describe, they hold no data.
    path(
        "schema/",
        SpectacularAPIView.as_view(
            authentication_classes=[],
            permission_classes=[],
            custom_settings={"DESCRIPTION": docs.DESCRIPTION},
        ),
        name="api-schema",
    ),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(
            url_name="api-schema", authentication_classes=[], permission_classes=[]
        ),
        name="api-docs",
    ),
    # Last: any other path under /api/v1/ (an id that is not a number, a route that does not exist) is the
    # API's JSON 404 for a caller with a key (401 without), never the web's HTML page. `[\s\S]`, not `.`, so that
    # a path with a newline in it (%0A) is one too (a flag like `(?s)` would make every route unreversible).
    re_path(r"^[\s\S]*$", views.NotFoundView.as_view(), name="api-not-found"),
]
