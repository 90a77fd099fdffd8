from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from sessions.admin import change_link, changelist_link
from sessions.models import TestSession

from .models import Device
from .selectors import device_list


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
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
    readonly_fields = ["held_by_link", "sessions_link"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Device]:
        return device_list()

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
