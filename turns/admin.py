from django.contrib import admin

from .models import Turn


@admin.register(Turn)
class TurnAdmin(admin.ModelAdmin):
    list_display = ["id", "session", "status", "created_at", "finished_at"]
    list_filter = ["status"]
    search_fields = ["session__id", "reply"]
    readonly_fields = [f.name for f in Turn._meta.fields]
