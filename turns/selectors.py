"""Reads of the chat: a session's conversation as people see it."""

from __future__ import annotations

from typing import Any

from sessions.models import TestSession

from .models import Turn

PLANNING = (Turn.Status.ACCUMULATING, Turn.Status.RUNNING)


def chat_history(*, session: TestSession) -> list[dict[str, Any]]:
    """The session's chat in order: each turn's messages (`who: "you"`), then its reply (`who: "agent"`).

    A turn still being gathered or planned ends with `{"who": "agent", "thinking": true}` and no text;
    a turn waiting for the tester's answer has no line for that yet.
    """
    lines: list[dict[str, Any]] = []
    for turn in Turn.objects.filter(session=session).order_by("id"):
        for message in turn.messages:
            lines.append({"who": "you", "turn_id": turn.pk, "text": message.get("text", ""), "at": message.get("at")})
        if turn.reply:
            lines.append({"who": "agent", "turn_id": turn.pk, "text": turn.reply, "status": turn.status})
        elif turn.status in PLANNING:
            lines.append({"who": "agent", "turn_id": turn.pk, "thinking": True})
    return lines
