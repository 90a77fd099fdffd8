from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import screencast  # noqa: F401  (a device's worker casts its screen: the worker_ready receiver)
