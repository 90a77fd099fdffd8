from django.contrib import admin

from .models import Run


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "name", "owner", "status", "steps_total", "created_at", "finished_at")
    list_filter = ("kind", "status")
    search_fields = ("name", "filename", "id")
    raw_id_fields = ("session", "owner")
    readonly_fields = ("created_at", "finished_at")
