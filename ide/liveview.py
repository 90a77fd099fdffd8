"""The live device view: `GET /devices/<serial>/live/` (a page made to sit in an iframe) and its frame socket
`ws /ws/devices/<serial>/live/`.

Only the owner of the session open on the device sees either: the page is a 404 for anyone else (as someone
else's session is), the socket closes with 4401 (not signed in), 4404 (no such device) or 4403 (no session
of yours on it). The socket registers its watcher with the device's caster (`devices.screencast`, on the
device's worker), forwards every frame as one binary message, and ends — `{"type": "ENDED", "status"}`,
then close 1000 — when the session stops holding the device (it ended, or went IDLE and let the device go):
its watcher leaves with it, and the caster stops once nobody watches. Steps do not go through this socket:
the page sends them on the session socket, the normal step path.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_http_methods

from core.jsonsafe import JsonRefused, json_load
from devices.models import Device
from devices.screencast import frame_group, watch_renew, watch_stop
from sessions.consumers import accept_signed_in
from sessions.models import TestSession

CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
FRAMES_IN_FLIGHT = 4
"""Frames a socket may have sent and not yet seen acknowledged (`SEEN`); beyond them only the newest is kept,
and sent when the client acknowledges one: a slow client gets fewer frames, never a growing queue."""
FRAME_ANCESTORS = "frame-ancestors 'self'"
"""The page may be framed by pages of its own origin only (with X-Frame-Options: SAMEORIGIN for old browsers)."""


def live_session(*, owner: AbstractBaseUser, serial: str) -> TestSession | None:
    """The user's open session on the device: the one holding it, else the newest open one (IDLE) on it."""
    sessions = TestSession.objects.filter(
        owner=owner, device__serial=serial, status__in=TestSession.ACTIVE
    ).select_related("device")
    holding = sessions.filter(status__in=TestSession.HOLDING_DEVICE).order_by("-created_at").first()
    return holding or sessions.order_by("-created_at").first()


@login_required
@require_http_methods(["GET", "HEAD"])
@xframe_options_sameorigin
def live_page(request: HttpRequest, serial: str) -> HttpResponse:
    session = live_session(owner=request.user, serial=serial)
    if session is None:
        raise Http404("No session of yours is open on this device.")
    device = session.device
    config = {
        "session": str(session.pk),
        "status": session.status,
        "last_seq": session.last_seq,
        "screen_url": session.screen_url,
        "serial": device.serial,
        "name": device.name or device.serial,
        "width": device.screen_width,
        "height": device.screen_height,
    }
    response = render(request, "ide/live.html", {"session": session, "device": device, "config": config})
    response["Content-Security-Policy"] = FRAME_ANCESTORS
    return response


def _find(user: Any, serial: str) -> tuple[int, TestSession | None]:
    """(close code, session): 0 and the session when the user may watch."""
    if not Device.objects.filter(serial=serial).exists():
        return CLOSE_NOT_FOUND, None
    session = live_session(owner=user, serial=serial)
    return (0, session) if session is not None else (CLOSE_FORBIDDEN, None)


def _status(session_id: Any) -> str:
    return TestSession.objects.values_list("status", flat=True).get(pk=session_id)


class LiveViewConsumer(AsyncWebsocketConsumer):
    renewer: asyncio.Future[None] | None = None
    watching = False
    ended = False
    in_flight = 0
    held: bytes | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Without Channels' per-message thread hop (see `SessionConsumer.dispatch`): frames come many a second.

        The socket is in the session's group for its status only: the other messages of that group (each layer
        may add its own) are not for it. A handler that fails takes the watcher with it (the socket closes
        without `disconnect`), so the caster is not kept reading for a socket that is gone."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            return
        try:
            await handler(message)
        except BaseException:
            await self._unwatch()
            raise

    async def connect(self) -> None:
        if (user := await accept_signed_in(self)) is None:
            return
        serial = self.scope["url_route"]["kwargs"]["serial"]
        code, session = await database_sync_to_async(_find)(user, serial)
        if session is None:
            await self.close(code=code)
            return
        self.serial = serial
        self.groups_joined = [frame_group(serial), session.group_name]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        # Read after joining: an end announced before the socket joined the session's group is seen here.
        status = await database_sync_to_async(_status)(session.pk)
        await self.send(
            text_data=json.dumps(
                {"type": "LIVE", "serial": serial, "session_id": str(session.pk), "status": status}
            )
        )
        if status not in TestSession.HOLDING_DEVICE:
            await self._end(status)
            return
        self.watching = True
        await sync_to_async(watch_renew, thread_sensitive=False)(serial=serial, watcher=self.channel_name, wake=True)
        self.renewer = asyncio.ensure_future(self._renew())

    async def _renew(self) -> None:
        every = settings.LIVE_WATCH_TTL_SECONDS / 3
        while True:
            await asyncio.sleep(every)
            try:
                await sync_to_async(watch_renew, thread_sensitive=False)(serial=self.serial, watcher=self.channel_name)
            except Exception:  # Redis away for a moment: the next turn tries again, the watcher lapses meanwhile
                continue

    async def _end(self, status: str) -> None:
        if self.ended:
            return
        self.ended = True
        await self._unwatch()
        await self.send(text_data=json.dumps({"type": "ENDED", "status": status}))
        await self.close(code=1000)

    async def _unwatch(self) -> None:
        if self.renewer is not None:
            self.renewer.cancel()
            self.renewer = None
        if self.watching:
            self.watching = False
            await sync_to_async(watch_stop, thread_sensitive=False)(serial=self.serial, watcher=self.channel_name)

    async def disconnect(self, code: int) -> None:
        await self._unwatch()
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """`SEEN` acknowledges a frame; a `PING` gets a `PONG`; anything else is ignored (steps go on the
        session socket)."""
        try:
            message = json_load(text_data or "")
        except JsonRefused:  # not JSON, too deep, NUL: ignored like any message not for this socket
            return
        if not isinstance(message, dict):
            return
        if message.get("type") == "SEEN":
            self.in_flight = max(0, self.in_flight - 1)
            if self.held is not None and self.watching:
                frame, self.held = self.held, None
                await self._send_frame(frame)
        elif message.get("type") == "PING":
            await self.send(text_data=json.dumps({"type": "PONG"}))

    async def live_frame(self, message: dict[str, Any]) -> None:
        if not self.watching:
            return
        if self.in_flight >= FRAMES_IN_FLIGHT:
            self.held = message["frame"]  # the newest wins: an older picture is not worth sending
            return
        await self._send_frame(message["frame"])

    async def _send_frame(self, frame: bytes) -> None:
        self.in_flight += 1
        await self.send(bytes_data=frame)

    async def session_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if event.get("type") == "SESSION_STATUS" and event.get("status") not in TestSession.HOLDING_DEVICE:
            await self._end(event["status"])
