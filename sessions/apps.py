from typing import Any

from django.apps import AppConfig
from django.db import transaction
from django.db.models.signals import post_delete


class TestSessionsConfig(AppConfig):
    # Labelled apart from django.contrib.sessions, which Channels' auth middleware needs.
    name = "sessions"
    label = "test_sessions"
    verbose_name = "Test sessions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from devices.signals import device_went_offline

        from .models import TestSession

        device_went_offline.connect(_pause_sessions, dispatch_uid="sessions.pause_on_device_offline")
        # Sent for every row, a queryset's delete() and a cascade from the owner's deletion too: a receiver
        # makes Django's collector load the rows it deletes rather than delete them in bulk.
        post_delete.connect(_forget_files, sender=TestSession, dispatch_uid="sessions.delete_files_of_deleted")


def _pause_sessions(sender: Any, *, device: Any, reason: str, **_: Any) -> None:
    from .services.lifecycle import sessions_pause_on_device

    sessions_pause_on_device(device=device, reason=reason)


def _forget_files(sender: Any, *, instance: Any, using: str, **_: Any) -> None:
    """A deleted session's files go once the deletion commits (not at all if it rolls back). A storage that
    fails then is logged; the sweeper's search for orphans deletes them later."""
    from .services.artifacts import session_files_delete

    session_id = instance.pk
    transaction.on_commit(lambda: session_files_delete(session_id=session_id), using=using, robust=True)
