"""CHAT on the session socket (sessions/consumers.py hands it here): one service call."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from . import services


async def on_chat(consumer: Any, message: dict[str, Any], request_id: Any) -> None:
    text = message.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > services.MAX_TEXT:
        # as `POST …/turns/` answers the same body
        await consumer.error(
            "invalid",
            f"text: A CHAT message needs 'text': your message to the agent, not only white space, "
            f"at most {services.MAX_TEXT} characters.",
            request_id,
            field="text",
        )
        return
    turn = await database_sync_to_async(services.turn_message_add)(
        session_id=consumer.session_id, owner=consumer.scope["user"], text=text
    )
    await consumer.reply("ACK", request_id, turn_id=turn.pk)
