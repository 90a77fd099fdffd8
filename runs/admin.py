from django.contrib import admin

from sessions.admin import ReadOnlyAdmin

from .models import Run, SavedFlow


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    """Runs are started through the API (flows are validated there); here they are looked at."""

    list_display = ("id", "kind", "name", "owner", "status", "steps_total", "created_at", "finished_at")
    list_filter = ("kind", "status")
    search_fields = ("name", "filename", "id")
    readonly_fields = [f.name for f in Run._meta.fields]


@admin.register(SavedFlow)
class SavedFlowAdmin(admin.ModelAdmin):
    """Flows are saved through the API, which validates them and shows their webhook secret once; here a
    flow can only be switched on or off (or deleted)."""

    list_display = ("name", "owner", "cron", "enabled", "device_serial", "last_scheduled_at", "created_at")
    list_filter = ("enabled",)
    search_fields = ("name", "id")
    fields = [f.name for f in SavedFlow._meta.fields if f.name not in {"webhook_nonce"}]
    readonly_fields = [name for name in fields if name != "enabled"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
