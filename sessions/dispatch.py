"""Ringing a device's lane: work for a session is sent to its device's queue after the transaction that
recorded it commits. The database says what to do; a message only says "look".

Two shapes, as the design card draws them:
- opening (or waking) a session: `chain(sessions.setup, sessions.drain)` on `device-<serial>`;
- anything else (a step, an answer, a promoted deferral, a recovery): one `sessions.drain`.
Every ring is sent: a drain runs what was queued when it looked, so each piece of work has a drain that
sees it, and one that comes after its work was done costs two queries.

A ring also rings the session's bell, a Redis list: a drain that is still reading the screen after its
last step waits on it (`lane_bell_wait`), so a step sent meanwhile starts at once instead of waiting in
the queue behind that read (docs/architecture.md, "The screen after a step").
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import redis
from celery import chain, current_app, signature
from django.conf import settings
from django.db import transaction

from core.queues import service_queue

logger = logging.getLogger(__name__)
BELL_TTL_S = 60


def _drain(session_id: Any, queue: str) -> Any:
    return signature("sessions.drain", kwargs={"session_id": str(session_id)}, queue=queue, immutable=True)


def lane_open(*, session_id: Any, queue: str) -> None:
    """Set the session's device up, then drain its work: `chain(setup, drain)`."""
    setup = signature("sessions.setup", kwargs={"session_id": str(session_id)}, queue=queue, immutable=True)
    chain(setup, _drain(session_id, queue)).apply_async()


def lane_ring(*, session_id: Any, queue: str) -> None:
    """Ask the device's worker to drain the session's pending work."""
    current_app.send_task("sessions.drain", kwargs={"session_id": str(session_id)}, queue=queue)
    lane_bell(session_id=session_id)


@functools.cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def _bell_key(session_id: Any) -> str:
    return f"cognisim:lane:bell:{session_id}"


def lane_bell(*, session_id: Any, what: str = "ring") -> None:
    """Wake the drain waiting on the session's bell: `ring` (work was queued) or `read` (its screen read ended).
    A bell nobody waits on expires; a drain that pops a stale one looks and waits again."""
    key = _bell_key(session_id)
    try:
        pipe = _redis(settings.REDIS_URL).pipeline()
        pipe.rpush(key, what)
        pipe.expire(key, BELL_TTL_S)
        pipe.execute()
    except redis.RedisError as exc:
        logger.warning("could not ring the bell of session %s: %s", session_id, exc)


def lane_bell_wait(*, session_id: Any, timeout: float) -> str | None:
    """What rang the session's bell (`ring`, `read`), or None after `timeout` seconds (at most 4)."""
    popped: Any = _redis(settings.REDIS_URL).blpop([_bell_key(session_id)], timeout=min(timeout, 4))
    return popped[1].decode() if popped else None


def lane_open_on_commit(*, session_id: Any, queue: str) -> None:
    transaction.on_commit(lambda: lane_open(session_id=session_id, queue=queue))


def lane_ring_on_commit(*, session_id: Any, queue: str) -> None:
    transaction.on_commit(lambda: lane_ring(session_id=session_id, queue=queue))


def recording_request_on_commit(*, session_id: Any) -> None:
    """After commit, ask a `control` worker to make the recording of a session that just ended, so that its
    link (the IDE's, a CI run's JUnit) answers at once. Best effort: the first request makes it otherwise."""

    def send() -> None:
        try:
            signature(
                "sessions.record", kwargs={"session_id": str(session_id)}, queue=service_queue("control")
            ).apply_async()
        except Exception as exc:  # the broker away
            logger.warning("could not ask for the recording of session %s: %s", session_id, exc)

    transaction.on_commit(send)
