"""Run history in the admin: read-only, newest first, with durations and links between a session,
its device, its steps, events, decisions and turns."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.db.models import Count, DurationField, ExpressionWrapper, F, Model, QuerySet
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from devices.live import device_changed_on_commit
from devices.models import Device

from .models import Decision, SessionEvent, Step, TestSession, UserQuota
from .selectors import devices_with_holders


def change_link(obj: Model | None, text: object = None) -> SafeString | str:
    """A link to `obj`'s admin page, or "-" when there is nothing to link to."""
    if obj is None:
        return "-"
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj if text is None else text)


def changelist_link(model: type[Model] | str, text: str, **filters: Any) -> SafeString:
    """A link to `model`'s admin list, filtered (`session__id__exact=…`); a layer above names its model
    as "app_label.model" (this module does not import it)."""
    label = model if isinstance(model, str) else f"{model._meta.app_label}.{model._meta.model_name}"
    url = reverse("admin:{}_{}_changelist".format(*label.lower().split(".")))
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(filters), text)


def human_duration(value: timedelta | float | None) -> str:
    """`412 ms`, `3.2 s`, `4 min 05 s`, `2 h 07 min`; "-" when unknown."""
    if value is None:
        return "-"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class ReadOnlyAdmin(admin.ModelAdmin):
    """History written by the services only: it can be looked at (and deleted), never added or edited here,
    where a hand-made row would break the rules the services keep (an Add form that can only end in a 500)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


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
class TestSessionAdmin(ReadOnlyAdmin):
    list_display = ["id", "name", "owner", "device_link", "status", "source", "created_at", "duration", "step_count"]
    list_display_links = ["id", "name"]
    list_filter = ["status", "source", "created_at", "owner", "device"]
    list_select_related = ["owner", "device"]
    search_fields = ["id", "name", "owner__username", "device__serial", "device__name", "trace_id"]
    ordering = ["-created_at"]
    readonly_fields = [f.name for f in TestSession._meta.fields] + ["device_link", "duration", "history"]
    fieldsets = [
        (None, {"fields": ["id", "name", "owner", "device_link", "status", "source", "duration", "history"]}),
        ("Times", {"fields": ["created_at", "ready_at", "ended_at", "last_activity_at"]}),
        (
            "Details",
            {
                "classes": ["collapse"],
                "fields": [
                    "app_package",
                    "requested_device",
                    "trace_id",
                    "screen_url",
                    "error",
                    "last_seq",
                    "initial_state",
                    "current_state",
                ],
            },
        ),
    ]
    inlines = [StepInline, DecisionInline, EventInline]
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[TestSession]:
        started = Coalesce("ready_at", "created_at")
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_steps=Count("steps", distinct=True),
                run_time=ExpressionWrapper(F("ended_at") - started, output_field=DurationField()),
            )
        )

    @admin.display(description="device", ordering="device__serial")
    def device_link(self, obj: TestSession) -> SafeString | str:
        return change_link(obj.device)

    @admin.display(description="duration", ordering="run_time")
    def duration(self, obj: TestSession) -> str:
        """From ready (or created, for a session that never got ready) to ended; "-" while open."""
        if obj.ended_at is None:
            return "-"
        return human_duration(obj.ended_at - (obj.ready_at or obj.created_at))

    @admin.display(description="steps", ordering="n_steps")
    def step_count(self, obj: TestSession) -> SafeString:
        return changelist_link(Step, str(getattr(obj, "n_steps", "")), session__id__exact=obj.pk)

    @admin.display(description="history")
    def history(self, obj: TestSession) -> SafeString:
        links = [
            changelist_link(Step, "steps", session__id__exact=obj.pk),
            changelist_link(SessionEvent, "events", session__id__exact=obj.pk),
            changelist_link(Decision, "decisions", session__id__exact=obj.pk),
            changelist_link("turns.Turn", "turns", session__id__exact=obj.pk),
        ]
        return format_html(" · ".join(["{}"] * len(links)), *links)


class SessionHistoryAdmin(ReadOnlyAdmin):
    """Rows of a session's history: linked to the session, searchable by its id, user and device."""

    list_select_related = ["session"]
    search_fields = ["session__id", "session__name", "session__owner__username", "session__device__serial"]

    @admin.display(description="session", ordering="session__created_at")
    def session_link(self, obj: Any) -> SafeString | str:
        return change_link(obj.session)


@admin.register(Step)
class StepAdmin(SessionHistoryAdmin):
    list_display = ["__str__", "session_link", "index", "action", "status", "attempt", "duration", "queued_at"]
    list_filter = ["status", "action", "queued_at", "session__device"]
    ordering = ["-queued_at", "-id"]
    fields = ["session_link", *(f.name for f in Step._meta.fields if f.name not in {"id", "session", "screenshot"})]
    readonly_fields = fields

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, obj: Step) -> str:
        return "-" if obj.duration_ms is None else human_duration(obj.duration_ms / 1000)


@admin.register(SessionEvent)
class SessionEventAdmin(SessionHistoryAdmin):
    list_display = ["__str__", "session_link", "seq", "type", "created_at"]
    list_filter = ["type", "created_at"]
    ordering = ["-created_at", "-id"]
    fields = ["session_link", *(f.name for f in SessionEvent._meta.fields if f.name not in {"id", "session"})]
    readonly_fields = fields


@admin.register(Decision)
class DecisionAdmin(SessionHistoryAdmin):
    list_display = ["__str__", "session_link", "step", "kind", "reason", "schedule_at", "created_at"]
    list_filter = ["kind", "reason", "created_at"]
    ordering = ["-created_at", "-id"]
    fields = ["session_link", *(f.name for f in Decision._meta.fields if f.name not in {"id", "session"})]
    readonly_fields = fields


@admin.register(UserQuota)
class UserQuotaAdmin(admin.ModelAdmin):
    list_display = ["user", "max_active_sessions", "steps_per_window"]


class DeviceForm(forms.ModelForm):
    class Meta:
        model = Device
        fields = ["name", "status"]

    def clean_status(self) -> str:
        """A device a session holds is not made available: a second session would get the same phone."""
        status: str = self.cleaned_data["status"]
        if status == Device.Status.AVAILABLE and self.instance.pk is not None:
            holding = TestSession.objects.filter(device=self.instance, status__in=TestSession.HOLDING_DEVICE)
            held_by = holding.values_list("pk", flat=True).first()
            if held_by is not None:
                raise forms.ValidationError(
                    f"Session {held_by} holds this device: stop that session first; the device is available "
                    "again when it ends."
                )
        return status


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    """Devices register themselves (their host agent, or `cognisim up`); here one can rename a device or put
    it in (or take it out of) maintenance."""

    form = DeviceForm
    list_display = [
        "serial",
        "name",
        "transport",
        "host",
        "model",
        "os_version",
        "status",
        "held_by_link",
        "last_heartbeat",
    ]
    list_filter = ["status", "transport", "host"]
    search_fields = ["serial", "name", "model"]
    fields = [
        "serial",
        "name",
        "status",
        "held_by_link",
        "sessions_link",
        "transport",
        "host",
        "model",
        "os_version",
        "screen_width",
        "screen_height",
        "last_heartbeat",
        "created_at",
    ]
    readonly_fields = [name for name in fields if name not in {"name", "status"}]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Device]:
        return devices_with_holders(viewer=request.user)

    def save_model(self, request: HttpRequest, obj: Device, form: object, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[arg-type]
        device_changed_on_commit(serial=obj.serial)

    @admin.display(description="held by")
    def held_by_link(self, obj: Device) -> SafeString | str:
        """The session holding the device (PENDING with it … WAITING_INPUT), as a link to that session."""
        held_by = getattr(obj, "held_by", None)
        return change_link(TestSession(pk=held_by), held_by) if held_by else "-"

    @admin.display(description="sessions")
    def sessions_link(self, obj: Device) -> SafeString | str:
        if obj.pk is None:
            return "-"
        return changelist_link(TestSession, "every session on this device", device__id__exact=obj.pk)
