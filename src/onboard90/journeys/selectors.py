"""Reads over journeys, actions and tasks: lists, one journey's document, figures and reports."""

from __future__ import annotations

from django.db.models import Count

from onboard90.journeys.enums import ActionStatus, JourneyStatus
from onboard90.journeys.models import Journey, Task


def today_figures() -> dict:
    """Headline figures for the home page."""
    journeys = dict(Journey.objects.values_list("status").annotate(n=Count("id")))
    tasks = dict(Task.objects.values_list("status").annotate(n=Count("id")))
    return {
        "journeys_active": journeys.get(JourneyStatus.ACTIVE, 0),
        "journeys_completed": journeys.get(JourneyStatus.COMPLETED, 0),
        "journeys_exited": journeys.get(JourneyStatus.EXITED, 0),
        "tasks_open": tasks.get(ActionStatus.OPEN, 0),
        "tasks_overdue": tasks.get(ActionStatus.OVERDUE, 0),
    }
