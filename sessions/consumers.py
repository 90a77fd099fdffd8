"""The session socket (SPEC §4): thin and async; every message is one service call."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.converters import database_id_problem
from core.errors import ServiceError
from core.jsonsafe import JsonRefused, json_check, json_load
from core.ratelimit import TokenBucket
from core.steps import StepInvalid

from . import selectors, services
from .errors import InputInvalid

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TRY_AGAIN = 4503
"""Redis (the channel layer) cannot be reached: reconnect in a moment (docs/api.md). daphne sends no
1011/1013 from an application (autobahn takes 1000 and 3000-4999 only), so 4503, as HTTP's 503."""
REPLAY_PAGE = 1000

Handler = Callable[["SessionConsumer", dict[str, Any], Any], Awaitable[None]]
_handlers: dict[str, tuple[Handler, tuple[str, ...]]] = {}


async def accept_signed_in(consumer: AsyncWebsocketConsumer) -> Any:
    """Accept the socket and return its signed-in user, or close it (4403 for a refused Origin or token,
    4401 when nobody is signed in) and return None. Accepting first lets the client read the close code."""
    await consumer.accept()
    user = consumer.scope.get("user")
    if consumer.scope.get("auth_error"):
        await consumer.close(code=CLOSE_FORBIDDEN)
        return None
    if user is None or not user.is_authenticated:
        await consumer.close(code=CLOSE_UNAUTHENTICATED)
        return None
    return user


def message_type_register(type: str, handler: Handler, *, fields: tuple[str, ...]) -> None:
    """A layer above sessions adds a client message type (turns adds CHAT) without this module importing it;
    `fields`: the ones its messages may carry besides `type` and `request_id`."""
    _handlers[type] = (handler, fields)


def request_id_of(message: Any) -> Any:
    """The `request_id` a reply to `message` echoes: none when the message is no object, or the id itself could
    not be sent back (NUL, a lone surrogate, a number that is not finite)."""
    request_id = message.get("request_id") if isinstance(message, dict) else None
    try:
        json_check(request_id)
    except JsonRefused:
        return None
    return request_id


@database_sync_to_async
def _owned_session(user: Any, session_id: str) -> Any:
    try:
        return selectors.session_get(owner=user, session_id=session_id)
    except ServiceError:
        return None


@database_sync_to_async
def _events_after(session_id: Any, after: int) -> list[tuple[int, str]]:
    return selectors.event_texts(session_id=session_id, after=after, limit=REPLAY_PAGE)


class SessionConsumer(AsyncWebsocketConsumer):
    """Delivers the session's events in `seq` order with no gap and no duplicate.

    The socket has delivered the events after `first` up to `sent`, each once. Live events arrive through
    the channel group; one that would leave a gap (events from two processes can overtake each other on the
    way) is preceded by the missing ones read from the database, where they are already committed. A
    `RESUME` replays what it asks for that this socket has not delivered: never an event twice.
    """

    first = 0
    sent = 0
    busy = False
    """Handling a message that may wait (a replay, a client's message): events meanwhile take the queue."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' own dispatch first closes stale database connections in a thread of its own: a thread hop
        for every event to every socket. Every database call here goes through `database_sync_to_async`,
        which does that in its thread anyway."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        self.busy = True
        try:
            await handler(message)
        finally:
            self.busy = False

    def direct_ready(self, message: dict[str, Any]) -> bool:
        """The channel layer may hand this socket a live event directly (`core.channel_layer`) when it is the
        next one in order and nothing else is under way: delivering it is one send, no wait."""
        return not self.busy and message["type"] == "session.event" and message["event"]["seq"] <= self.sent + 1

    async def connect(self) -> None:
        if (user := await accept_signed_in(self)) is None:
            return
        session = await _owned_session(user, self.scope["url_route"]["kwargs"]["session_id"])
        if session is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.session_id = session.pk
        self.group = session.group_name
        if not await self._join():
            await self.close(code=CLOSE_TRY_AGAIN)
            return
        if hasattr(self.channel_layer, "direct_add"):
            self.channel_layer.direct_add(self.channel_name, self)
        query = parse_qs(self.scope.get("query_string", b"").decode())
        last_seq = query.get("last_seq", [None])[0]
        last = await database_sync_to_async(selectors.session_last_seq)(session_id=self.session_id)
        if last_seq is not None and last_seq.isascii() and last_seq.isdigit():
            if len(last_seq.lstrip("0")) <= 19 and int(last_seq) <= last:
                self.first = self.sent = int(last_seq)
                await self._replay()
                return
            why = f"is past this session's last event (seq {last}): give the last seq you received"
        else:
            why = "must be a non-negative integer, the last seq you received"
        self.first = self.sent = last
        if last_seq is not None:
            await self.error(
                "invalid_message",
                f"'last_seq' in the URL {why} (0 replays everything), not '{last_seq[:64]}'. This socket gets "
                "live events from now; send RESUME to replay.",
                field="last_seq",
                last_seq=last,
            )

    async def _join(self) -> bool:
        """Join the session's group. The layer's connection to Redis breaks when Redis restarts, and the
        first command on it fails while the client reconnects it: that one is tried again, once."""
        for attempt in (1, 2):
            try:
                await self.channel_layer.group_add(self.group, self.channel_name)
                return True
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                if attempt == 2:
                    logger.warning("session socket closed with %s: Redis unreachable (%s)", CLOSE_TRY_AGAIN, exc)
        return False

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            if hasattr(self.channel_layer, "direct_discard"):
                self.channel_layer.direct_discard(self.channel_name)
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _replay(self) -> None:
        """Deliver the committed events after `sent`."""
        while True:
            events = await _events_after(self.session_id, self.sent)
            for _, text in events:
                await self.send(text_data=text)
            if events:
                self.sent = events[-1][0]
            if len(events) < REPLAY_PAGE:
                return

    async def _replay_before(self, after: int) -> None:
        """Deliver the events after `after` up to `first`: the socket joined after them, the client asks for
        them. Then it has delivered every event after `after`."""
        start, upto = after, self.first
        while after < upto:
            page = [(seq, text) for seq, text in await _events_after(self.session_id, after) if seq <= upto]
            if not page:
                break
            for _, text in page:
                await self.send(text_data=text)
            after = page[-1][0]
        self.first = start

    async def session_event(self, message: dict[str, Any]) -> None:
        seq = message["event"]["seq"]
        if seq <= self.sent:
            return
        if seq > self.sent + 1:
            await self._replay()
            return
        self.sent = seq
        await self.send(text_data=message.get("text") or json.dumps(message["event"]))

    async def session_log(self, message: dict[str, Any]) -> None:
        """New lines of the device's log (`lane.logs`): live only, no `seq`; `GET …/logs/` has them all."""
        await self.send(text_data=json.dumps({"type": "DEVICE_LOG", "lines": message["lines"]}))

    async def reply(self, type: str, request_id: Any, **fields: Any) -> None:
        body: dict[str, Any] = {"type": type, **fields}
        if request_id is not None:
            body["request_id"] = request_id
        await self.send(text_data=json.dumps(body))

    async def error(self, code: str, message: str, request_id: Any = None, **fields: Any) -> None:
        await self.reply("ERROR", request_id, code=code, message=message, **fields)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not hasattr(self, "session_id"):
            return
        if not hasattr(self, "bucket"):
            self.bucket = TokenBucket(rate=settings.SOCKET_MESSAGES_PER_SECOND, burst=settings.SOCKET_MESSAGE_BURST)
        wait = self.bucket.take()
        if wait:  # not handled; the socket stays open
            request_id = None
            if text_data and '"request_id"' in text_data:
                try:
                    request_id = request_id_of(json_load(text_data))
                except JsonRefused as exc:
                    request_id = request_id_of(exc.decoded)
            await self.error(
                "rate_limited",
                f"More than {settings.SOCKET_MESSAGES_PER_SECOND:g} messages a second on this socket; "
                "this one was not handled.",
                request_id,
                retry_after_ms=max(1, round(wait * 1000)),
            )
            return
        if bytes_data is not None:
            await self.error("binary_not_supported", "Send JSON text frames.")
            return
        if text_data is None:
            return
        try:
            message = json_load(text_data)
        except JsonRefused as exc:
            if exc.code == "parse_error":
                await self.error("malformed_json", "The message is not valid JSON.")
            else:  # too deep, NUL, lone surrogates, numbers that are not finite
                where = {"field": exc.field} if exc.field else {}
                await self.error(exc.code, exc.message, request_id_of(exc.decoded), **where)
            return
        request_id = message.get("request_id") if isinstance(message, dict) else None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.error("invalid_message", "A message is a JSON object with a 'type' (a string).", request_id)
            return
        found = MESSAGE_TYPES.get(message["type"]) or _handlers.get(message["type"])
        if found is None:
            await self.error("unknown_type", f"Unknown message type '{message['type'][:64]}'.", request_id)
            return
        handler, fields = found
        unknown = sorted(set(message) - {"type", "request_id", *fields})
        if unknown:
            takes = ", ".join(f"'{f}'" for f in fields) or "no other field"
            await self.error(
                "invalid_message",
                f"Unknown field '{unknown[0][:64]}' in {message['type']}; it takes {takes} (and 'request_id').",
                request_id,
                field=unknown[0],
            )
            return
        try:
            await handler(self, message, request_id)
        except StepInvalid as exc:
            await self.error(exc.code, exc.message, request_id, field=exc.field)
        except ServiceError as exc:
            details = {k: v for k, v in exc.details.items() if k not in ("type", "code", "message", "request_id")}
            await self.error(exc.code, exc.message, request_id, **details)  # as REST: `field`, `limit`, …

    async def on_ping(self, message: dict[str, Any], request_id: Any) -> None:
        await self.reply("PONG", request_id)

    async def on_execute_single(self, message: dict[str, Any], request_id: Any) -> None:
        step = await database_sync_to_async(services.step_submit)(
            session_id=self.session_id, owner=self.scope["user"], data=message.get("step")
        )
        await self.reply("ACK", request_id, step_id=step.pk, step_index=step.index)

    async def on_user_input_response(self, message: dict[str, Any], request_id: Any) -> None:
        input_id = message.get("input_id")
        if input_id is not None and (why := database_id_problem(input_id)):
            raise InputInvalid(f"input_id: {why}", field="input_id")  # what REST answers (sessions/api.py)
        step = await database_sync_to_async(services.session_input)(
            session_id=self.session_id,
            owner=self.scope["user"],
            input_id=message.get("input_id"),
            value=message.get("value"),
            cancel=message.get("cancel") is True,
        )
        await self.reply("ACK", request_id, step_id=step.pk, step_index=step.index)

    async def on_stop(self, message: dict[str, Any], request_id: Any) -> None:
        session = await database_sync_to_async(services.session_stop)(
            session_id=self.session_id, owner=self.scope["user"]
        )
        await self.reply("ACK", request_id, status=session.status)

    async def on_resume(self, message: dict[str, Any], request_id: Any) -> None:
        last_seq = message.get("last_seq")
        if not isinstance(last_seq, int) or isinstance(last_seq, bool) or last_seq < 0:
            await self.error("invalid_message", "'last_seq' must be a non-negative integer.", request_id)
            return
        last = await database_sync_to_async(selectors.session_last_seq)(session_id=self.session_id)
        if last_seq > last:
            await self.error(
                "invalid_message",
                f"'last_seq' is past this session's last event (seq {last}): give the last seq you received "
                "(0 replays everything). Nothing was replayed.",
                request_id,
                field="last_seq",
                last_seq=last,
            )
            return
        if last_seq < self.first:
            await self._replay_before(last_seq)
        self.sent = max(self.sent, last_seq)
        await self._replay()


MESSAGE_TYPES: dict[str, tuple[Handler, tuple[str, ...]]] = {
    "PING": (SessionConsumer.on_ping, ()),
    "EXECUTE_SINGLE": (SessionConsumer.on_execute_single, ("step",)),
    "USER_INPUT_RESPONSE": (SessionConsumer.on_user_input_response, ("input_id", "value", "cancel")),
    "STOP": (SessionConsumer.on_stop, ()),
    "RESUME": (SessionConsumer.on_resume, ("last_seq",)),
}
"""The client messages this socket knows, each with the fields it takes besides `type` and `request_id`."""
