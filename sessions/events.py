"""Session events: numbered without gaps in the transaction that makes the change, broadcast after commit."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.db import connection, transaction

from core.rows import insert_sql, row_insert, rows_update, select_sql, update_sql
from core.storage import artifact_name, artifact_save

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


def event_text(*, seq: int, type: str, session_id: Any, created_at: Any, payload_json: str) -> str:
    """`json.dumps(event_message(event))` made from the payload's stored JSON text, without decoding and
    encoding it again: a replay of thousands of events spends its time sending, not converting.
    (No payload has a key of the envelope's: type, seq, session_id, ts.)"""
    head = f'{{"type": {json.dumps(type)}, "seq": {int(seq)}, "session_id": "{uuid.UUID(str(session_id))}"'
    head += f', "ts": "{created_at.isoformat()}"'
    body = payload_json.strip()
    return f"{head}}}" if body == "{}" else f"{head}, {body[1:]}"


def session_group(session_id: Any) -> str:
    """The channel group of a session's sockets (`TestSession.group_name`)."""
    return f"session.{uuid.UUID(str(session_id)).hex}"


def session_bump(*, session_id: Any, seqs: int = 1, **fields: Any) -> tuple[int, str] | None:
    """Reserve `seqs` event numbers of a session and set `fields` in one statement: (last_seq, status).

    `UPDATE … SET last_seq = last_seq + seqs … RETURNING last_seq, status` stands for "lock the row,
    read last_seq, write it back": the row stays locked (PostgreSQL) or the database is (SQLite) until
    the transaction ends, so `last_seq - seqs + 1 … last_seq` are this transaction's. None if the
    session is gone.
    """
    row = session_update(session_id=session_id, add={"last_seq": seqs}, fields=fields, returning=("last_seq", "status"))
    return None if row is None else (int(row[0]), str(row[1]))


def session_update(
    *,
    session_id: Any,
    add: dict[str, int],
    fields: dict[str, Any],
    returning: tuple[str, ...],
    where: dict[str, Any] | None = None,
    also: str = "",
) -> tuple[Any, ...] | None:
    """`UPDATE session SET col = col + n …, field = value … WHERE id = … [AND field = value | IN (…)] [AND also]
    RETURNING …` in the caller's transaction: the row (or, on SQLite, the database) stays locked until it ends."""
    assert transaction.get_connection().in_atomic_block, "a session's counters change inside a transaction"
    try:
        key = uuid.UUID(str(session_id))
    except ValueError:
        return None  # not a session's id: no such session
    row = rows_update(
        TestSession, where={"id": key, **(where or {})}, fields=fields, add=add, also=also, returning=returning
    )
    assert row is None or isinstance(row, tuple)
    return row


def step_transition(
    *,
    session_id: Any,
    step_id: int,
    step_where: dict[str, Any],
    step_fields: dict[str, Any],
    step_add: dict[str, int] | None = None,
    session_where: dict[str, Any] | None = None,
    session_fields: dict[str, Any],
    payload: dict[str, Any],
) -> int | None:
    """Change a step that is still as `step_where` says, in a session that is as `session_where` says, number
    its STEP_STATUS event (setting `session_fields` too) and store it: all of it or nothing. The event's
    seq, or None when the step or its session was not so (nothing changed). The event is published once
    committed.

    The session's row is locked before the step's, as every writer of both does. On PostgreSQL, outside a
    transaction, it is one statement, committed on its own: a round trip to the server, where the same
    work as a transaction takes five (a device's worker claims and finishes every step this way).
    """
    key = uuid.UUID(str(session_id))
    event = SessionEvent(session_id=key, seq=0, type=SessionEvent.Type.STEP_STATUS, payload=payload)
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        sql, params = _step_transition_sql(
            key, step_id, step_where, step_fields, step_add, session_where or {}, session_fields, event
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        event.seq = row[0]
        publish_on_commit(session_group(key), event_message(event))  # committed: sent now
        return event.seq
    with transaction.atomic():
        bumped = session_update(
            session_id=key, add={"last_seq": 1}, fields=session_fields, returning=("last_seq",), where=session_where
        )
        if bumped is None:
            return None
        if not rows_update(Step, where={"id": step_id, **step_where}, fields=step_fields, add=step_add):
            transaction.set_rollback(True)
            return None
        event.seq = bumped[0]
        row_insert(event)
        publish_on_commit(session_group(key), event_message(event))
    return event.seq


def _step_transition_sql(
    key: uuid.UUID,
    step_id: int,
    step_where: dict[str, Any],
    step_fields: dict[str, Any],
    step_add: dict[str, int] | None,
    session_where: dict[str, Any],
    session_fields: dict[str, Any],
    event: SessionEvent,
) -> tuple[str, list[Any]]:
    """`step_transition` as one PostgreSQL statement. Each part runs only if the one before it matched a row:
    the session is locked, the step changed, the session's last_seq bumped, the event inserted with it."""
    locked, locked_params = select_sql(TestSession, columns=("id",), where={"id": key, **session_where})
    changed, changed_params = update_sql(
        Step,
        where={"id": step_id, **step_where},
        fields=step_fields,
        add=step_add,
        also="EXISTS (SELECT 1 FROM locked)",
        returning=("id",),
    )
    bumped, bumped_params = update_sql(
        TestSession,
        where={"id": key},
        fields=session_fields,
        add={"last_seq": 1},
        also="EXISTS (SELECT 1 FROM changed)",
        returning=("last_seq",),
    )
    seq = connection.ops.quote_name(TestSession._meta.get_field("last_seq").column)  # type: ignore[union-attr]
    stored, stored_params = insert_sql(event, select_from="bumped", selected={"seq": seq})
    sql = (
        f"WITH locked AS ({locked} FOR NO KEY UPDATE), changed AS ({changed}), bumped AS ({bumped}) "
        f"{stored} RETURNING {connection.ops.quote_name('seq')}"
    )
    return sql, [*locked_params, *changed_params, *bumped_params, *stored_params]


def event_insert(*, session_id: Any, seq: int, type: str, payload: dict[str, Any]) -> SessionEvent:
    """Store one event numbered by `session_bump` in this transaction; it is published after commit."""
    event = row_insert(SessionEvent(session_id=session_id, seq=seq, type=type, payload=payload))
    publish_on_commit(session_group(session_id), event_message(event))
    return event


def events_insert(*, session_id: Any, first_seq: int, events: list[tuple[str, dict[str, Any]]]) -> None:
    """Store events numbered `first_seq`, `first_seq + 1` … (reserved by `session_update`) in one insert;
    they are published in order after commit."""
    rows = SessionEvent.objects.bulk_create(
        SessionEvent(session_id=session_id, seq=seq, type=type, payload=payload)
        for seq, (type, payload) in enumerate(events, start=first_seq)
    )
    group = session_group(session_id)
    for event in rows:
        publish_on_commit(group, event_message(event))


def event_append(*, session: TestSession, type: str, payload: dict[str, Any], **fields: Any) -> SessionEvent:
    """Number and store one event, inside the transaction that makes the change it reports.

    The number comes from the database (`session_bump`, which also sets `fields` on the session), so
    every writer — one holding the session's row lock or one that only bumps it — numbers without gaps,
    and the unique (session, seq) constraint refuses any slip.
    """
    bumped = session_bump(session_id=session.pk, **fields)
    assert bumped is not None, f"session {session.pk} is gone"
    session.last_seq = bumped[0]
    for name, value in fields.items():
        setattr(session, name, value)
    event = SessionEvent.objects.create(session=session, seq=session.last_seq, type=type, payload=payload)
    publish_on_commit(session.group_name, event_message(event))
    return event


def step_event(*, step: Step, status: str | None = None, **extra: Any) -> SessionEvent:
    payload = step_payload(step, status, **extra)
    return event_append(session=step.session, type=SessionEvent.Type.STEP_STATUS, payload=payload)


def step_payload(step: Step, status: str | None = None, **extra: Any) -> dict[str, Any]:
    """A STEP_STATUS event's payload: the step's status (or `status`, like RETRYING) and, once over, its outcome."""
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
    return payload


def session_status_event(*, session: TestSession, **extra: Any) -> SessionEvent:
    payload: dict[str, Any] = {"status": session.status}
    if session.error:
        payload["error"] = session.error
    payload.update(extra)
    return event_append(session=session, type=SessionEvent.Type.SESSION_STATUS, payload=payload)


def screen_save(*, session_id: Any, screen_hash: str, png: bytes) -> tuple[str, int]:
    """Write a screen's picture to the artifact storage, before (never inside) the transaction that records
    it: a file write must not hold the database. Its storage name and size."""
    name = artifact_save(name=artifact_name(session_id, "screens", f"{screen_hash}.png"), content=png)
    return name, len(png)


def screen_store(
    *,
    session_id: Any,
    picture: tuple[str, int],
    screen_hash: str,
    ui_xml: str = "",
    step: Step | None = None,
    **extra: Any,
) -> SessionEvent:
    """Keep the device's new screen (once per distinct screen; `picture` from `screen_save`) and tell the
    session's clients where it is."""
    name, size = picture
    Screen.objects.update_or_create(
        session_id=session_id,
        screen_hash=screen_hash,
        defaults={"picture": name, "size": size, **({"ui_xml": ui_xml} if ui_xml else {})},
    )
    url = f"/api/sessions/{session_id}/screens/{screen_hash}.png"
    payload: dict[str, Any] = {"url": url, "screen": screen_hash}
    if step is not None:
        payload.update(step_id=step.pk, step_index=step.index)
    payload.update(extra)
    bumped = session_bump(session_id=session_id, screen_url=url)
    assert bumped is not None, f"session {session_id} is gone"
    return event_insert(session_id=session_id, seq=bumped[0], type=SessionEvent.Type.SCREEN, payload=payload)
