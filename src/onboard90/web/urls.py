"""Web app URLs: sign-in, the staff workbench, the customer page, escalations, the dashboard, health, metrics."""

from django.urls import include, path

from onboard90.web.views import auth, customers, dashboard, escalations, health, metrics, workbench

urlpatterns = [
    path("", workbench.workbench, name="workbench"),
    path("tasks/<int:task_id>/", workbench.task_open, name="task-open"),
    path("tasks/<int:task_id>/complete/", customers.task_complete, name="task-complete"),
    path("tasks/<int:task_id>/reassign/", customers.task_reassign, name="task-reassign"),
    path("tasks/<int:task_id>/take/", customers.task_take, name="task-take"),
    path("customers/<str:msisdn>/", customers.customer, name="customer"),
    path("customers/<str:msisdn>/visit/", customers.customer_visit, name="customer-visit"),
    path("customers/<str:msisdn>/booklet.pdf", customers.customer_booklet, name="customer-booklet"),
    path("customers/<str:msisdn>/booklet/handed/", customers.customer_booklet_handed, name="customer-booklet-handed"),
    path("login/", auth.SignInView.as_view(), name="login"),
    path("logout/", auth.SignOutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", health.healthz, name="healthz"),
    # Prometheus's scrape: no sign-in, the address or a token decides (web.views.metrics).
    path("metrics", metrics.metrics, name="metrics"),
    path("escalations/", escalations.escalations, name="escalations"),
    path("escalations/export.xlsx", escalations.escalations_export, name="escalations-export"),
    path(
        "escalations/<int:escalation_id>/acknowledge/", escalations.escalation_acknowledge_view,
        name="escalation-acknowledge",
    ),
    path("dashboard/export/ops-<str:name>.xlsx", escalations.ops_export, name="ops-export"),
    path("dashboard/export/<str:table>.xlsx", dashboard.dashboard_export, name="dashboard-export"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
]
