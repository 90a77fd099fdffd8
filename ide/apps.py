from django.apps import AppConfig


class IdeConfig(AppConfig):
    name = "ide"
    verbose_name = "IDE"

    def ready(self) -> None:
        from devices.live import device_changed

        from .live import devices_changed

        device_changed.connect(devices_changed, dispatch_uid="ide.devices_changed")
