"""The Redis pub/sub channel layer, with a group's message handed to this process's sockets in one pass.

channels_redis puts a group message into the queue of every member channel, and each socket's consumer
then wakes on its own: a task woken, a task created, the message decoded again, for every socket. With
fifty sockets on a session, that hop was most of a web process's time per event. Here a consumer that
registers itself (`direct_add`) is handed the message, decoded once, in one task for all of them, when it
says it can take it at once (`direct_ready`: nothing of its own under way, the next message in order);
otherwise the message takes the usual path through its queue, which keeps each socket's order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close, decode_hosts

logger = logging.getLogger(__name__)


class DirectReceiver(Protocol):
    def direct_ready(self, message: dict[str, Any]) -> bool:
        """Whether `dispatch(message)` now would deliver it at once, in order, without waiting on anything."""
        ...

    async def dispatch(self, message: dict[str, Any]) -> None: ...


class FanOutChannelLayer(RedisPubSubChannelLayer):
    def _get_layer(self) -> _LoopLayer:
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = self._layers[loop] = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
        return layer

    def direct_add(self, channel: str, receiver: DirectReceiver) -> None:
        self._get_layer().direct[channel] = receiver

    def direct_discard(self, channel: str) -> None:
        self._get_layer().direct.pop(channel, None)


class _LoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args: Any, hosts: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, hosts=hosts, **kwargs)
        self._shards = [_Shard(host, self) for host in decode_hosts(hosts)]
        self.direct: dict[str, DirectReceiver] = {}

    async def fan_out(self, group: str, data: bytes) -> None:
        """Hand one group message to each member: directly where it can take it now, else through its queue."""
        message = self.channel_layer.deserialize(data)
        for channel in list(self.groups.get(group, ())):
            queue = self.channels.get(channel)
            if queue is None:
                continue
            receiver = self.direct.get(channel)
            if receiver is None or not queue.empty() or not receiver.direct_ready(message):
                queue.put_nowait(data)
                continue
            try:
                await receiver.dispatch(message)
            except Exception:  # one socket's failure is not the others'
                logger.exception("could not deliver a message of %s to %s", group, channel)


class _Shard(RedisSingleShardConnection):
    def _receive_message(self, message: dict[str, Any] | None) -> None:
        layer = self.channel_layer
        if message is not None:
            name = message["channel"]
            name = name.decode() if isinstance(name, bytes) else name
            if name in layer.groups and name not in layer.channels:
                # Every group message takes this path, one task each, created in arrival order: each runs
                # to its end without waiting (receivers deliver at once or are queued), so order is kept.
                asyncio.get_running_loop().create_task(layer.fan_out(name, message["data"]))
                return
        super()._receive_message(message)
