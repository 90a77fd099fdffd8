"""The channel layer hands a group message to the sockets of a process in one pass (`core.channel_layer`),
over a real Redis: directly to a socket that can take it now, through its queue otherwise, in order."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from django.conf import settings

from core.channel_layer import FanOutChannelLayer


class Socket:
    """A receiver as the session consumer is one: it takes the next seq directly unless it is busy."""

    def __init__(self) -> None:
        self.busy = False
        self.sent = 0
        self.direct: asyncio.Queue[int] = asyncio.Queue()

    def direct_ready(self, message: dict[str, Any]) -> bool:
        return not self.busy and message["seq"] <= self.sent + 1

    async def dispatch(self, message: dict[str, Any]) -> None:
        self.sent = message["seq"]
        self.direct.put_nowait(message["seq"])


async def _scenario() -> tuple[list[int], list[int], list[int], list[int]]:
    layer = FanOutChannelLayer(hosts=[{"address": settings.REDIS_URL}], prefix=f"fanout-test-{uuid.uuid4().hex}")
    group = "session.test"
    ready, busy = Socket(), Socket()
    busy.busy = True
    channels = [await layer.new_channel() for _ in range(3)]  # the third is a plain consumer: queue only
    for channel in channels:
        await layer.group_add(group, channel)
    layer.direct_add(channels[0], ready)
    layer.direct_add(channels[1], busy)

    async def take(channel: str, n: int) -> list[int]:
        return [(await asyncio.wait_for(layer.receive(channel), 30))["seq"] for _ in range(n)]

    async def taken_directly(socket: Socket, n: int) -> list[int]:
        return [await asyncio.wait_for(socket.direct.get(), 30) for _ in range(n)]

    for seq in (1, 2, 3):
        await layer.group_send(group, {"type": "session.event", "seq": seq})
    queued_while_busy = await take(channels[1], 3)
    plain = await take(channels[2], 3)
    busy.busy = False  # its queue is empty again: the next one comes directly
    busy.sent = 3
    await layer.group_send(group, {"type": "session.event", "seq": 4})
    ready_direct, busy_direct = await taken_directly(ready, 4), await taken_directly(busy, 1)
    plain += await take(channels[2], 1)
    layer.direct_discard(channels[0])
    await layer.group_send(group, {"type": "session.event", "seq": 5})
    assert await take(channels[0], 1) == [5]  # no longer registered: back to its queue
    busy_direct += await taken_directly(busy, 1)
    assert ready.direct.empty()
    await layer.flush()
    return ready_direct, busy_direct, queued_while_busy, plain


def test_a_group_message_goes_directly_to_a_ready_socket_and_through_the_queue_of_a_busy_one():
    ready_direct, busy_direct, queued_while_busy, plain = asyncio.run(_scenario())
    assert ready_direct == [1, 2, 3, 4]
    assert queued_while_busy == [1, 2, 3] and busy_direct == [4, 5]
    assert plain == [1, 2, 3, 4]
