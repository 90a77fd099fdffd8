"""Ringing a device's lane: work for a session is sent to its device's queue after the transaction that
recorded it commits. The database says what to do; a message only says "look".

Two shapes, as the design card draws them:
- opening (or waking) a session: `chain(sessions.setup, sessions.drain)` on `device-<serial>`;
- anything else (a step, an answer, a promoted deferral, a recovery): one `sessions.drain`.
A session has at most one drain waiting in its queue: a ring marks the session in Redis and is
not sent again while the mark stands; the drain clears the mark before it reads the database, so
work recorded after that moment rings again and nothing is missed.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import chain, current_app, signature
from django.db import transaction
from redis import RedisError

from core.locks import lock_key, redis_client

logger = logging.getLogger(__name__)
RING_MARK_S = 30
"""A mark outlives a lost message by this long at most; the sweeper rings again after that."""


def _ring_key(session_id: Any) -> str:
    return lock_key(f"ring:{session_id}")


def _drain(session_id: Any, queue: str) -> Any:
    return signature("sessions.drain", kwargs={"session_id": str(session_id)}, queue=queue, immutable=True)


def lane_open(*, session_id: Any, queue: str) -> None:
    """Set the session's device up, then drain its work: `chain(setup, drain)`."""
    setup = signature("sessions.setup", kwargs={"session_id": str(session_id)}, queue=queue, immutable=True)
    chain(setup, _drain(session_id, queue)).apply_async()


def lane_ring(*, session_id: Any, queue: str, force: bool = False) -> None:
    """Ask the device's worker to drain the session's pending work (at most one such message waits).

    `force` sends it even if a mark says one waits (the sweeper, when that message may have been lost)."""
    try:
        if not redis_client().set(_ring_key(session_id), 1, nx=not force, ex=RING_MARK_S) and not force:
            return
    except RedisError:
        logger.warning("could not mark the ring of session %s; sending it anyway", session_id)
    current_app.send_task("sessions.drain", kwargs={"session_id": str(session_id)}, queue=queue)


def lane_ring_heard(*, session_id: Any) -> None:
    """The drain is running: later work must ring again."""
    redis_client().delete(_ring_key(session_id))


def lane_open_on_commit(*, session_id: Any, queue: str) -> None:
    transaction.on_commit(lambda: lane_open(session_id=session_id, queue=queue))


def lane_ring_on_commit(*, session_id: Any, queue: str) -> None:
    transaction.on_commit(lambda: lane_ring(session_id=session_id, queue=queue))
