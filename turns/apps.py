from typing import Any

from django.apps import AppConfig


class TurnsConfig(AppConfig):
    name = "turns"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from sessions.consumers import message_type_register
        from sessions.signals import input_answered, lane_recovered

        from .consumers import on_chat

        message_type_register("CHAT", on_chat, fields=("text",))
        input_answered.connect(_input_answered, dispatch_uid="turns.input_answered")
        lane_recovered.connect(_lane_recovered, dispatch_uid="turns.lane_recovered")


def _input_answered(sender: Any, *, session: Any, step: Any, **_: Any) -> None:
    from .services import turn_input_answered

    turn_input_answered(session=session, step=step)


def _lane_recovered(sender: Any, *, session_id: Any, **_: Any) -> None:
    from .services import turns_redrive

    turns_redrive(session_id=session_id)
