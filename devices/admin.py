from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from sessions.admin import change_link, changelist_link
from sessions.models import TestSession

from .live import device_changed_on_commit
from .models import Device
from .selectors import device_list


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    """Devices register themselves (their host agent, or `cognisim up`); here one can rename a device or put
    it in (or take it out of) maintenance."""

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
        return device_list()

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
