from typing import Any

from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from sessions.signals import session_ended

        session_ended.connect(_session_ended, dispatch_uid="runs.session_ended")


def _session_ended(sender: Any, *, session: Any, **_: Any) -> None:
    from .services import run_session_ended

    run_session_ended(session=session)
