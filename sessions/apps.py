from typing import Any

from django.apps import AppConfig


class TestSessionsConfig(AppConfig):
    # Labelled apart from django.contrib.sessions, which Channels' auth middleware needs.
    name = "sessions"
    label = "test_sessions"
    verbose_name = "Test sessions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from devices.signals import device_went_offline

        device_went_offline.connect(_pause_sessions, dispatch_uid="sessions.pause_on_device_offline")


def _pause_sessions(sender: Any, *, device: Any, reason: str, **_: Any) -> None:
    from .services.lifecycle import sessions_pause_on_device

    sessions_pause_on_device(device=device, reason=reason)
