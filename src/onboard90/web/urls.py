"""Web app URLs (the staff workbench comes with its own issue; this serves today's figures)."""

from django.urls import path

from onboard90.web import views

urlpatterns = [path("", views.home, name="home")]
