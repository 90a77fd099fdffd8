"""Ringing a device's lane: work for a session is sent to its device's queue after the transaction that
recorded it commits. The database says what to do; a message only says "look".

Two shapes, as the design card draws them:
- opening (or waking) a session: `chain(sessions.setup, sessions.drain)` on `device-<serial>`;
- anything else (a step, an answer, a promoted deferral, a recovery): one `sessions.drain`.
Every ring is sent: a drain runs what was queued when it looked, so each piece of work has a drain that
sees it, and one that comes after its work was done costs two queries.
"""

from __future__ import annotations

from typing import Any

from celery import chain, current_app, signature
from django.db import transaction


def _drain(session_id: Any, queue: str) -> Any:
    return signature("sessions.drain", kwargs={"session_id": str(session_id)}, queue=queue, immutable=True)


def lane_open(*, session_id: Any, queue: str) -> None:
    """Set the session's device up, then drain its work: `chain(setup, drain)`."""
    setup = signature("sessions.setup", kwargs={"session_id": str(session_id)}, queue=queue, immutable=True)
    chain(setup, _drain(session_id, queue)).apply_async()


def lane_ring(*, session_id: Any, queue: str) -> None:
    """Ask the device's worker to drain the session's pending work."""
    current_app.send_task("sessions.drain", kwargs={"session_id": str(session_id)}, queue=queue)


def lane_open_on_commit(*, session_id: Any, queue: str) -> None:
    transaction.on_commit(lambda: lane_open(session_id=session_id, queue=queue))


def lane_ring_on_commit(*, session_id: Any, queue: str) -> None:
    transaction.on_commit(lambda: lane_ring(session_id=session_id, queue=queue))
