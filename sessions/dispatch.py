"""Ringing a device's lane: work for a session is sent to its device's queue after the transaction that
recorded it commits. The database says what to do; a message only says "look".

Two shapes, as the design card draws them:
- opening (or waking) a session: `chain(sessions.setup, sessions.drain)` on `device-<serial>`;
- anything else (a step, an answer, a promoted deferral, a recovery): one `sessions.drain`.

A ring first rings the session's bell, a Redis list. A drain of the session that is under way is
*listening* (a flag with a TTL, `lane_listen`): it waits on the bell between steps, while it reads the
screen after its last step and for a short linger after that (`LANE_LINGER_SECONDS`), so a step sent
meanwhile starts at once instead of waiting in the queue. A ring that finds the flag sends no task: the
drain runs the step. The drain clears the flag before its last look for work (`lane_unlisten`), so a
ring either sees no flag and sends a task, or came before that look, which then sees its step
(docs/architecture.md, "The screen after a step"). A drain that comes after its work was done costs
two queries.
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

from .broadcast import Publication

logger = logging.getLogger(__name__)
BELL_TTL_S = 60
LISTEN_TTL_S = 10


def _drain(session_id: Any, queue: str) -> Any:
    return signature("sessions.drain", kwargs={"session_id": str(session_id)}, queue=queue, immutable=True)


def lane_open(*, session_id: Any, queue: str) -> None:
    """Set the session's device up, then drain its work: `chain(setup, drain)`."""
    setup = signature("sessions.setup", kwargs={"session_id": str(session_id)}, queue=queue, immutable=True)
    chain(setup, _drain(session_id, queue)).apply_async()


def lane_ring(*, session_id: Any, queue: str, always: bool = False, publish: Publication | None = None) -> None:
    """Ask the device's worker to drain the session's pending work: the drain listening on the session's
    bell runs it, or the task sent when none listens (`always`: whatever the bell says). `publish`: an event
    of the work to broadcast first, in the same round trip to Redis (`lane_bell`)."""
    if not lane_bell(session_id=session_id, listened=True, publish=publish) or always:
        current_app.send_task("sessions.drain", kwargs={"session_id": str(session_id)}, queue=queue)


@functools.cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def _bell_key(session_id: Any) -> str:
    return f"cognisim:lane:bell:{session_id}"


def _listening_key(session_id: Any) -> str:
    return f"cognisim:lane:listening:{session_id}"


def lane_bell(
    *, session_id: Any, what: str = "ring", listened: bool = False, publish: Publication | None = None
) -> bool:
    """Wake the drain waiting on the session's bell: `ring` (work was queued) or `read` (its screen read ended).
    A bell nobody waits on expires; a drain that pops a stale one looks and waits again. With `listened`,
    True when a drain of the session is listening (it will run the work); False when Redis failed.

    `publish` is `PUBLISH`ed just before, in the same pipeline: a step's QUEUED reaches its sockets before the
    drain can claim the step, one round trip to Redis for both (a web process's thread that waits on a second
    one also waits for the GIL its event loop holds meanwhile)."""
    key = _bell_key(session_id)
    try:
        pipe = _redis(settings.REDIS_URL).pipeline(transaction=False)
        if publish is not None:
            pipe.publish(*publish)
        pipe.rpush(key, what)
        pipe.expire(key, BELL_TTL_S)
        if listened:
            pipe.exists(_listening_key(session_id))
        replies = pipe.execute()
        return bool(replies[-1]) if listened else True
    except redis.RedisError as exc:
        logger.warning("could not ring the bell of session %s: %s", session_id, exc)
        return False


def lane_listen(*, session_id: Any, timeout: float = 0) -> str | None:
    """A drain of the session is under way: mark it listening (for LISTEN_TTL_S, renewed at each call), and
    with a `timeout`, wait that long (at most 4 s) for the bell; what rang it (`ring`, `read`), or None."""
    pipe = _redis(settings.REDIS_URL).pipeline(transaction=False)
    pipe.set(_listening_key(session_id), 1, ex=LISTEN_TTL_S)
    if timeout > 0:
        pipe.blpop([_bell_key(session_id)], timeout=min(max(timeout, 0.01), 4))  # 0 would block for good
    popped: Any = pipe.execute()[-1]
    return popped[1].decode() if isinstance(popped, (list, tuple)) else None


def lane_unlisten(*, session_id: Any) -> None:
    """The drain is about to look for work a last time, then end: rings from now on send a task."""
    try:
        _redis(settings.REDIS_URL).delete(_listening_key(session_id))
    except redis.RedisError as exc:  # the flag expires; meanwhile the drain's last look finds the work
        logger.warning("could not clear the listening flag of session %s: %s", session_id, exc)


def lane_open_on_commit(*, session_id: Any, queue: str) -> None:
    transaction.on_commit(lambda: lane_open(session_id=session_id, queue=queue))


def lane_ring_on_commit(*, session_id: Any, queue: str, publish: Publication | None = None) -> None:
    transaction.on_commit(lambda: lane_ring(session_id=session_id, queue=queue, publish=publish))


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
