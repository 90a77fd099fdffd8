"""The device list socket (`/ws/devices/`): the rows of the home page's device table, sent whole on connect
and again after every committed change of a device. Thin: one selector call per message."""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from . import selectors
from .live import DEVICES_GROUP

CLOSE_UNAUTHENTICATED = 4401


class DevicesConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()
        user = self.scope.get("user")
        if self.scope.get("auth_error") or user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.joined = True
        await self.channel_layer.group_add(DEVICES_GROUP, self.channel_name)
        await self._send_rows()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "joined", False):
            await self.channel_layer.group_discard(DEVICES_GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The list is read-only; a `PING` gets a `PONG` (the page's liveness check), anything else is ignored."""
        try:
            message = json.loads(text_data or "")
        except ValueError:
            return
        if getattr(self, "joined", False) and isinstance(message, dict) and message.get("type") == "PING":
            await self.send(text_data=json.dumps({"type": "PONG"}))

    async def devices_changed(self, message: dict[str, Any]) -> None:
        await self._send_rows()

    async def _send_rows(self) -> None:
        rows = await database_sync_to_async(selectors.device_rows)(user=self.scope["user"])
        await self.send(text_data=json.dumps({"type": "DEVICES", "devices": rows}))
