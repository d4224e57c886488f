"""`/api/v1/`: the API's routes, its OpenAPI schema and the docs page (Swagger UI from the sidecar package)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from onboard90.api import docs, views

urlpatterns = [
    path("events", views.EventsView.as_view(), name="api-events"),
    path("customers", views.CustomersView.as_view(), name="api-customers"),
    path("customers/<str:msisdn>", views.CustomerView.as_view(), name="api-customer"),
    path(
        "customers/<str:msisdn>/messages", views.CustomerMessagesView.as_view(), name="api-customer-messages"
    ),
    path("customers/<str:msisdn>/opt-out", views.CustomerOptOutView.as_view(), name="api-customer-opt-out"),
    path("journeys/<int:journey_id>", views.JourneyView.as_view(), name="api-journey"),
    path("tasks", views.TasksView.as_view(), name="api-tasks"),
    path("tasks/<int:task_id>/complete", views.TaskCompleteView.as_view(), name="api-task-complete"),
    path("tasks/<int:task_id>/reassign", views.TaskReassignView.as_view(), name="api-task-reassign"),
    path(
        "escalations/<int:escalation_id>/acknowledge",
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
]
