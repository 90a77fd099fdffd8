"""Events go out after commit, through this one helper.

A message for a channel group is one Redis `PUBLISH` on the pub/sub channel layer's channel for that
group, made right here, in the caller's thread: messages from one thread keep their order, and no other
thread has to be woken (handing each event to a publisher thread cost a GIL switch, milliseconds, on the
step's critical path). A message lost on the way (Redis down, the process killed) is not lost to
clients: events are committed first, and sockets fill gaps from the database.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import Any

import redis
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)


@cache
def _redis() -> redis.Redis:
    """A connection of its own, with short timeouts: a Redis that is away costs a moment, not the step."""
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


Publication = tuple[str, bytes]
"""A message for a channel group as Redis `PUBLISH` takes it: the pub/sub channel and the layer's bytes."""


def group_publication(group: str, message: dict[str, Any]) -> Publication:
    layer = get_channel_layer()
    assert layer is not None, "CHANNEL_LAYERS is not configured"
    return f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}__group__{group}", layer.serialize(message)


def event_publication(group: str, event: dict[str, Any]) -> Publication:
    """A session event for its sockets: the event, and its text encoded once here for all of them (a process
    with fifty sockets on the session would otherwise encode it fifty times)."""
    return group_publication(group, {"type": "session.event", "event": event, "text": json.dumps(event)})


def _publish(group: str, publication: Publication) -> None:
    try:
        _redis().publish(*publication)
    except redis.RedisError as exc:
        logger.warning("could not broadcast to %s (%s); sockets will read it from the database", group, exc)


def group_publish(group: str, message: dict[str, Any]) -> None:
    """Send one message to every socket of a channel group, in every web process (the pub/sub layer's format)."""
    _publish(group, group_publication(group, message))


def publish_on_commit(group: str, event: dict[str, Any]) -> None:
    """After commit, send a session event to its sockets (`event_publication`)."""
    transaction.on_commit(lambda: _publish(group, event_publication(group, event)))
