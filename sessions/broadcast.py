"""Events go out after commit, through this one helper.

Sync code (services in a Celery worker or in a daphne thread pool) publishes to the
channel layer through one event loop per process, kept in a daemon thread, so the
channel layer's Redis connections are reused instead of rebuilt per message.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None
PUBLISH_TIMEOUT_S = 5.0


def _publisher_loop() -> asyncio.AbstractEventLoop:
    global _loop, _loop_pid
    with _lock:
        if _loop is None or _loop_pid != os.getpid():
            _loop = asyncio.new_event_loop()
            _loop_pid = os.getpid()
            threading.Thread(target=_loop.run_forever, name="event-publisher", daemon=True).start()
        return _loop


def group_publish(group: str, message: dict[str, Any]) -> None:
    """Send one message to a channel group; waits so that one thread's messages keep their order."""
    layer = get_channel_layer()
    future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _publisher_loop())
    try:
        future.result(timeout=PUBLISH_TIMEOUT_S)
    except Exception:
        # The event is already committed: clients that miss it fill the gap from the database.
        logger.exception("could not broadcast to %s", group)


def publish_on_commit(group: str, event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: group_publish(group, {"type": "session.event", "event": event}))
