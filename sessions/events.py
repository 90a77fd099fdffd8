"""Session events: numbered without gaps in the transaction that makes the change, broadcast after commit."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .broadcast import publish_on_commit
from .models import Screen, SessionEvent, Step, TestSession

STEP_EVENT_STATUS = {
    Step.Status.QUEUED: "QUEUED",
    Step.Status.DEFERRED: "DEFERRED",
    Step.Status.RUNNING: "STARTED",
    Step.Status.COMPLETED: "COMPLETED",
    Step.Status.FAILED: "ERROR",
    Step.Status.CANCELLED: "CANCELLED",
    Step.Status.SKIPPED: "CANCELLED",
}


def event_message(event: SessionEvent) -> dict[str, Any]:
    """The wire form of an event: `{"type", "seq", "session_id", "ts", …payload}`."""
    return {
        "type": event.type,
        "seq": event.seq,
        "session_id": str(event.session_id),
        "ts": event.created_at.isoformat(),
        **event.payload,
    }


def event_append(*, session: TestSession, type: str, payload: dict[str, Any]) -> SessionEvent:
    """Number and store one event, inside the transaction that makes the change it reports.

    `session` must have been read with its row locked in this transaction (or created in it):
    its `last_seq` is then the truth, and the unique (session, seq) constraint refuses any slip.
    """
    assert transaction.get_connection().in_atomic_block, "events are written with the change they report"
    session.last_seq += 1
    TestSession.objects.filter(pk=session.pk).update(last_seq=session.last_seq)
    event = SessionEvent.objects.create(session=session, seq=session.last_seq, type=type, payload=payload)
    publish_on_commit(session.group_name, event_message(event))
    return event


def step_event(*, step: Step, status: str | None = None, **extra: Any) -> SessionEvent:
    payload: dict[str, Any] = {
        "step_id": step.pk,
        "step_index": step.index,
        "action": step.action,
        "status": status or STEP_EVENT_STATUS[Step.Status(step.status)],
        "attempt": step.attempt,
    }
    if step.status in Step.TERMINAL:
        payload.update(result=step.result, error=step.error, duration_ms=step.duration_ms, timings=step.timings)
        if step.screen_hash:  # the screen it ended on; the picture follows in a SCREEN event
            payload["screen"] = step.screen_hash
    payload.update(extra)
    return event_append(session=step.session, type=SessionEvent.Type.STEP_STATUS, payload=payload)


def session_status_event(*, session: TestSession, **extra: Any) -> SessionEvent:
    payload: dict[str, Any] = {"status": session.status}
    if session.error:
        payload["error"] = session.error
    payload.update(extra)
    return event_append(session=session, type=SessionEvent.Type.SESSION_STATUS, payload=payload)


def screen_store(
    *, session: TestSession, png: bytes, screen_hash: str, ui_xml: str = "", step: Step | None = None, **extra: Any
) -> SessionEvent:
    """Keep the device's new screen (once per distinct screen) and tell the session's clients where it is."""
    Screen.objects.update_or_create(
        session=session, screen_hash=screen_hash, defaults={"png": png, **({"ui_xml": ui_xml} if ui_xml else {})}
    )
    session.screen_url = f"/api/sessions/{session.pk}/screens/{screen_hash}.png"
    TestSession.objects.filter(pk=session.pk).update(screen_url=session.screen_url)
    payload: dict[str, Any] = {"url": session.screen_url, "screen": screen_hash}
    if step is not None:
        payload.update(step_id=step.pk, step_index=step.index)
    payload.update(extra)
    return event_append(session=session, type=SessionEvent.Type.SCREEN, payload=payload)
