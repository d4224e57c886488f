"""Admin views of the engine's records (read-mostly: the engine and the services write them)."""

from django.contrib import admin

from onboard90.core.admin_base import ReadOnlyAdmin
from onboard90.journeys.models import (
    CyclePiece,
    CycleRun,
    Escalation,
    Journey,
    JourneyAction,
    Task,
    TaskAttempt,
)


class JourneyActionInline(admin.TabularInline):
    model = JourneyAction
    extra = 0
    fields = ["action_code", "stage", "status", "window_start", "window_end", "due_at", "closed_at", "reason"]
    readonly_fields = fields
    can_delete = False


@admin.register(Journey)
class JourneyAdmin(ReadOnlyAdmin):
    list_display = ["customer", "status", "playbook_version", "started_at", "closed_at"]
    list_filter = ["status", "playbook_version", "customer__city"]
    search_fields = ["customer__msisdn"]
    inlines = [JourneyActionInline]
    list_select_related = ["customer", "playbook_version"]


@admin.register(Task)
class TaskAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "action", "status", "backdated", "owner_unit", "assignee", "due_at", "attempts", "completed_by",
        "completion_entered_at",
    ]
    list_filter = ["status", "backdated", "kind", "owner_unit__city", "action__action_code"]
    search_fields = ["journey__customer__msisdn"]
    list_select_related = ["action", "owner_unit", "assignee", "completed_by"]


@admin.register(TaskAttempt)
class TaskAttemptAdmin(ReadOnlyAdmin):
    list_display = ["task", "at", "outcome", "by"]
    list_filter = ["outcome"]


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdmin):
    list_display = ["task", "at", "unit", "supervisor", "reason"]
    list_filter = ["reason", "unit__city"]


class CyclePieceInline(admin.TabularInline):
    model = CyclePiece
    extra = 0
    fields = ["name", "stage", "finished_at", "counts"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CycleRun)
class CycleRunAdmin(ReadOnlyAdmin):
    list_display = ["as_of", "status", "on_workers", "started_at", "finished_at", "counts"]
    inlines = [CyclePieceInline]
