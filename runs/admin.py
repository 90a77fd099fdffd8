from django.contrib import admin

from .models import Run, SavedFlow


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "name", "owner", "status", "steps_total", "created_at", "finished_at")
    list_filter = ("kind", "status")
    search_fields = ("name", "filename", "id")
    raw_id_fields = ("session", "owner")
    readonly_fields = ("created_at", "finished_at")


@admin.register(SavedFlow)
class SavedFlowAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "cron", "enabled", "device_serial", "last_scheduled_at", "created_at")
    list_filter = ("enabled",)
    search_fields = ("name", "id")
    raw_id_fields = ("owner", "last_run")
    readonly_fields = ("webhook_nonce", "created_at", "updated_at")
