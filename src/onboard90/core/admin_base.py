"""Admin helpers every app shares (core sits below the apps that use them)."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only through services (which audit) or by the engine: read in the admin, never edited
    by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
