from django.contrib import admin

from .models import Decision, SessionEvent, Step, TestSession, UserQuota


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class StepInline(ReadOnlyInline):
    model = Step
    fields = ["index", "action", "params", "status", "attempt", "duration_ms", "error"]
    readonly_fields = fields
    ordering = ["index"]


class EventInline(ReadOnlyInline):
    model = SessionEvent
    fields = ["seq", "type", "payload", "created_at"]
    readonly_fields = fields
    ordering = ["seq"]


class DecisionInline(ReadOnlyInline):
    model = Decision
    fields = ["step", "kind", "reason", "schedule_at", "created_at"]
    readonly_fields = fields


@admin.register(TestSession)
class TestSessionAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "owner", "device", "status", "source", "created_at", "ended_at"]
    list_filter = ["status", "source", "owner", "device"]
    search_fields = ["id", "name", "owner__username", "device__serial", "trace_id"]
    readonly_fields = [f.name for f in TestSession._meta.fields]
    inlines = [StepInline, DecisionInline, EventInline]
    date_hierarchy = "created_at"


@admin.register(Step)
class StepAdmin(admin.ModelAdmin):
    list_display = ["session", "index", "action", "status", "attempt", "duration_ms", "queued_at"]
    list_filter = ["status", "action"]
    search_fields = ["session__id", "session__name"]
    readonly_fields = [f.name for f in Step._meta.fields if f.name != "screenshot"]
    exclude = ["screenshot"]


@admin.register(SessionEvent)
class SessionEventAdmin(admin.ModelAdmin):
    list_display = ["session", "seq", "type", "created_at"]
    list_filter = ["type"]
    search_fields = ["session__id"]
    readonly_fields = [f.name for f in SessionEvent._meta.fields]


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ["session", "step", "kind", "reason", "schedule_at", "created_at"]
    list_filter = ["kind", "reason"]
    search_fields = ["session__id"]
    readonly_fields = [f.name for f in Decision._meta.fields]


@admin.register(UserQuota)
class UserQuotaAdmin(admin.ModelAdmin):
    list_display = ["user", "max_active_sessions", "steps_per_window"]
