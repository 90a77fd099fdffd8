"""Events go out after commit, through this one helper.

Sync code (services in a Celery worker or in a daphne thread) hands each message to one
publisher per process: an event loop in a daemon thread that sends them to the channel layer
one after another, in the order they were handed over, on connections it keeps open. The
caller does not wait for Redis. A message lost on the way (Redis down, the process killed)
is not lost to clients: events are committed first, and sockets fill gaps from the database.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from typing import Any

from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


class _Publisher:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.pending = 0
        self.settled = threading.Condition()
        threading.Thread(target=self.loop.run_forever, name="event-publisher", daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._drain(), self.loop)

    def put(self, group: str, message: dict[str, Any]) -> None:
        with self.settled:
            self.pending += 1
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (group, message))

    async def _drain(self) -> None:
        layer = get_channel_layer()
        while True:
            group, message = await self.queue.get()
            try:
                await layer.group_send(group, message)
            except Exception:
                logger.exception("could not broadcast to %s", group)
            with self.settled:
                self.pending -= 1
                self.settled.notify_all()

    def flush(self, timeout: float) -> bool:
        with self.settled:
            return self.settled.wait_for(lambda: self.pending == 0, timeout)


_lock = threading.Lock()
_publisher: _Publisher | None = None
_publisher_pid: int | None = None


def _get_publisher() -> _Publisher:
    global _publisher, _publisher_pid
    with _lock:
        if _publisher is None or _publisher_pid != os.getpid():
            _publisher, _publisher_pid = _Publisher(), os.getpid()
        return _publisher


def group_publish(group: str, message: dict[str, Any]) -> None:
    """Queue one message for a channel group; messages from one process keep their order."""
    _get_publisher().put(group, message)


def publish_on_commit(group: str, event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: group_publish(group, {"type": "session.event", "event": event}))


@atexit.register
def _flush_at_exit() -> None:
    if _publisher is not None and _publisher_pid == os.getpid():
        _publisher.flush(timeout=2.0)
