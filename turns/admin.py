from django.contrib import admin
from django.utils.safestring import SafeString

from sessions.admin import ReadOnlyAdmin, change_link, human_duration

from .models import Turn


@admin.register(Turn)
class TurnAdmin(ReadOnlyAdmin):
    """Read-only: turns are written by the chat pipeline only (deleting goes with their session)."""

    list_display = ["id", "session_link", "status", "created_at", "duration"]
    list_filter = ["status", "created_at"]
    list_select_related = ["session"]
    search_fields = ["session__id", "session__owner__username", "session__device__serial", "reply"]
    ordering = ["-created_at", "-id"]
    fields = ["session_link", "duration", *(f.name for f in Turn._meta.fields if f.name not in {"id", "session"})]
    readonly_fields = fields

    @admin.display(description="session", ordering="session__created_at")
    def session_link(self, obj: Turn) -> SafeString | str:
        return change_link(obj.session)

    @admin.display(description="duration")
    def duration(self, obj: Turn) -> str:
        return human_duration(obj.finished_at - obj.created_at) if obj.finished_at else "-"
