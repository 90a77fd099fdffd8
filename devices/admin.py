from django.contrib import admin

from .models import Device


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["serial", "name", "transport", "host", "model", "os_version", "status", "last_heartbeat"]
    list_filter = ["status", "transport", "host"]
    search_fields = ["serial", "name", "model"]
