"""CHAT on the session socket (sessions/consumers.py hands it here): one service call."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from . import services


async def on_chat(consumer: Any, message: dict[str, Any], request_id: Any) -> None:
    added = await database_sync_to_async(services.turn_message_add)(
        session_id=consumer.session_id, owner=consumer.scope["user"], text=message.get("text")
    )
    waiting = {"waits_for_input": added.waits_for_input} if added.waits_for_input else {}
    await consumer.reply("ACK", request_id, turn_id=added.turn.pk, **waiting)
